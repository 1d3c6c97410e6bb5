"""Unit tests of ToxiproxyClient against a scripted fake transport (no server, no sockets but the transport's own)."""

from __future__ import annotations

import json
import socket
import threading
from typing import Any, Callable

import pytest

from harness.clients import toxiproxy
from harness.errors import ToxiproxyError, ToxiproxyUnreachable, UsageError, VerificationFailed
from harness.clients.toxiproxy import HTTPTransport, Proxy, ProxySpec, Toxic, ToxiproxyClient

URL = "http://127.0.0.1:8474"
EDGE = "gateway->auth"
QEDGE = "gateway-%3Eauth"

PROXY = {"name": EDGE, "listen": "127.0.0.1:40001", "upstream": "127.0.0.1:7001", "enabled": True, "toxics": []}
DISABLED = {**PROXY, "enabled": False}
MOVED = {**PROXY, "upstream": "127.0.0.1:7002"}
LATENCY = {"name": "latency_downstream", "type": "latency", "stream": "downstream", "toxicity": 1.0,
           "attributes": {"latency": 300, "jitter": 0}}
SLOWER = {**LATENCY, "toxicity": 0.5, "attributes": {"latency": 100, "jitter": 0}}
SPEC = ProxySpec(EDGE, "127.0.0.1:0", "127.0.0.1:7001")
TOXIC = Toxic("latency_downstream", "latency", attributes={"latency": 300})


def error(message: str, status: int) -> tuple[int, bytes]:
    """A reply shaped like api.go's http.Error(json ApiError)."""
    return status, (json.dumps({"error": message, "status": status}) + "\n").encode()


class FakeTransport:
    """Replays scripted replies in order and records every request."""

    def __init__(self, *replies: Any) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, str, Any]] = []
        self.timeouts: list[float] = []

    def request(self, method: str, path: str, body: bytes | None, timeout_s: float) -> tuple[int, bytes]:
        self.calls.append((method, path, None if body is None else json.loads(body)))
        self.timeouts.append(timeout_s)
        reply = self.replies.pop(0)
        if isinstance(reply, BaseException):
            raise reply
        status, payload = reply
        return status, payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def client(*replies: Any, verify: bool = True) -> tuple[ToxiproxyClient, FakeTransport]:
    fake = FakeTransport(*replies)
    return ToxiproxyClient(URL, timeout_s=1.5, transport=fake, verify=verify), fake


# (write, its replies when all goes well, the requests it must make: the write, then one read-back GET)
WRITES: dict[str, tuple[Callable[[ToxiproxyClient], Any], list[Any], list[tuple[str, str, Any]]]] = {
    "create_proxy": (
        lambda c: c.create_proxy(SPEC),
        [(201, PROXY), (200, PROXY)],
        [("POST", "/proxies", {"name": EDGE, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:7001", "enabled": True}),
         ("GET", f"/proxies/{QEDGE}", None)],
    ),
    "populate": (
        lambda c: c.populate([SPEC]),
        [(201, {"proxies": [PROXY]}), (200, {EDGE: PROXY})],
        [("POST", "/populate",
          [{"name": EDGE, "listen": "127.0.0.1:0", "upstream": "127.0.0.1:7001", "enabled": True}]),
         ("GET", "/proxies", None)],
    ),
    "update_proxy": (
        lambda c: c.update_proxy(EDGE, upstream="127.0.0.1:7002"),
        [(200, MOVED), (200, MOVED)],
        [("PATCH", f"/proxies/{QEDGE}", {"upstream": "127.0.0.1:7002"}), ("GET", f"/proxies/{QEDGE}", None)],
    ),
    "enable": (
        lambda c: c.enable(EDGE),
        [(200, PROXY), (200, PROXY)],
        [("PATCH", f"/proxies/{QEDGE}", {"enabled": True}), ("GET", f"/proxies/{QEDGE}", None)],
    ),
    "disable": (
        lambda c: c.disable(EDGE),
        [(200, DISABLED), (200, DISABLED)],
        [("PATCH", f"/proxies/{QEDGE}", {"enabled": False}), ("GET", f"/proxies/{QEDGE}", None)],
    ),
    "delete_proxy": (
        lambda c: c.delete_proxy(EDGE),
        [(204, b""), error("proxy not found", 404)],
        [("DELETE", f"/proxies/{QEDGE}", None), ("GET", f"/proxies/{QEDGE}", None)],
    ),
    "add_toxic": (
        lambda c: c.add_toxic(EDGE, TOXIC),
        [(200, LATENCY), (200, LATENCY)],
        [("POST", f"/proxies/{QEDGE}/toxics", TOXIC.payload()),
         ("GET", f"/proxies/{QEDGE}/toxics/latency_downstream", None)],
    ),
    "update_toxic": (
        lambda c: c.update_toxic(EDGE, "latency_downstream", toxicity=0.5, attributes={"latency": 100}),
        [(200, SLOWER), (200, SLOWER)],
        [("PATCH", f"/proxies/{QEDGE}/toxics/latency_downstream", {"toxicity": 0.5, "attributes": {"latency": 100}}),
         ("GET", f"/proxies/{QEDGE}/toxics/latency_downstream", None)],
    ),
    "remove_toxic": (
        lambda c: c.remove_toxic(EDGE, "latency_downstream"),
        [(204, b""), (200, [])],
        [("DELETE", f"/proxies/{QEDGE}/toxics/latency_downstream", None), ("GET", f"/proxies/{QEDGE}/toxics", None)],
    ),
    "reset": (
        lambda c: c.reset(),
        [(204, b""), (200, {EDGE: PROXY})],
        [("POST", "/reset", None), ("GET", "/proxies", None)],
    ),
}

READS: dict[str, tuple[Callable[[ToxiproxyClient], Any], Any, tuple[str, str], Any]] = {
    "version": (lambda c: c.version(), {"version": "2.12.0"}, ("GET", "/version"), "2.12.0"),
    "proxies": (lambda c: c.proxies(), {EDGE: {**PROXY, "toxics": [LATENCY]}}, ("GET", "/proxies"),
                {EDGE: Proxy(EDGE, "127.0.0.1:40001", "127.0.0.1:7001", True,
                             (Toxic("latency_downstream", "latency", "downstream", 1.0,
                                    {"latency": 300, "jitter": 0}),))}),
    "proxy": (lambda c: c.proxy(EDGE), PROXY, ("GET", f"/proxies/{QEDGE}"),
              Proxy(EDGE, "127.0.0.1:40001", "127.0.0.1:7001", True)),
    "toxics": (lambda c: c.toxics(EDGE), [LATENCY, SLOWER], ("GET", f"/proxies/{QEDGE}/toxics"),
               (Toxic("latency_downstream", "latency", "downstream", 1.0, {"latency": 300, "jitter": 0}),
                Toxic("latency_downstream", "latency", "downstream", 0.5, {"latency": 100, "jitter": 0}))),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_each_write_sends_its_request_then_reads_back_with_one_get(name: str) -> None:
    write, replies, expected = WRITES[name]
    c, fake = client(*replies)
    write(c)
    assert fake.calls == expected
    assert fake.timeouts == [1.5] * len(expected)


@pytest.mark.parametrize("name", sorted(WRITES))
def test_verify_false_skips_the_read_back(name: str) -> None:
    write, replies, expected = WRITES[name]
    c, fake = client(replies[0], verify=False)
    write(c)
    assert fake.calls == expected[:1]


@pytest.mark.parametrize("status", [400, 404, 409, 500])
@pytest.mark.parametrize("name", sorted(WRITES) + sorted(READS))
def test_every_non_2xx_raises_with_status_and_server_text(name: str, status: int) -> None:
    call = WRITES[name][0] if name in WRITES else READS[name][0]
    c, _ = client(error(f"the server says no ({status})", status))
    with pytest.raises(ToxiproxyError) as caught:
        call(c)
    assert type(caught.value) is ToxiproxyError
    assert caught.value.status == status
    assert f"the server says no ({status})" in caught.value.body
    assert str(caught.value).startswith("Toxiproxy refused to ")
    assert f": {status} the server says no ({status}); " in str(caught.value)


@pytest.mark.parametrize("name", sorted(READS))
def test_reads_parse_into_typed_values(name: str) -> None:
    call, payload, request, expected = READS[name]
    c, fake = client((200, payload))
    assert call(c) == expected
    assert fake.calls == [(*request, None)]


def test_the_409_message_reads_like_a_sentence() -> None:
    c, _ = client(error("toxic already exists", 409))
    with pytest.raises(ToxiproxyError, match=(
        r"^Toxiproxy refused to add toxic 'latency_downstream' to proxy 'gateway->auth': "
        r"409 toxic already exists; it already exists: remove it first or update it instead$"
    )):
        c.add_toxic(EDGE, TOXIC)


def test_a_non_json_error_body_is_quoted_as_it_came() -> None:
    c, _ = client((502, b"Bad Gateway from some proxy"))
    with pytest.raises(ToxiproxyError, match="502 Bad Gateway from some proxy; see the toxiproxy-server log"):
        c.proxies()


def test_every_path_segment_is_percent_encoded() -> None:
    c, fake = client((204, b""), verify=False)
    c.remove_toxic("a b/c->d", "x/y?z")
    assert fake.calls == [("DELETE", "/proxies/a%20b%2Fc-%3Ed/toxics/x%2Fy%3Fz", None)]


@pytest.mark.parametrize(
    ("exc", "cause"),
    [
        (ConnectionRefusedError(111, "Connection refused"), "ConnectionRefusedError: Connection refused"),
        (ConnectionResetError(104, "Connection reset by peer"), "ConnectionResetError: Connection reset by peer"),
        (TimeoutError("timed out"), "no answer within 1.5 s"),
    ],
)
def test_an_unreachable_server_raises_unreachable_naming_url_and_cause(exc: OSError, cause: str) -> None:
    c, _ = client(exc)
    with pytest.raises(ToxiproxyUnreachable) as caught:
        c.add_toxic(EDGE, TOXIC)
    message = str(caught.value)
    assert message.startswith(f"Toxiproxy at {URL} did not answer while trying to add toxic 'latency_downstream'")
    assert cause in message
    assert message.endswith("is toxiproxy-server still running?")
    assert caught.value.__cause__ is exc


def test_add_toxic_read_back_with_other_attributes_fails_verification() -> None:
    c, _ = client((200, LATENCY), (200, {**LATENCY, "attributes": {"latency": 30, "jitter": 0}}))
    with pytest.raises(VerificationFailed, match="attribute 'latency': expected 300, server has 30") as caught:
        c.add_toxic(EDGE, TOXIC)
    assert "Expected Toxic(" in str(caught.value) and "actual Toxic(" in str(caught.value)


def test_add_toxic_with_an_attribute_the_type_lacks_fails_verification() -> None:
    # The server silently drops unknown attribute names; only the read-back can notice.
    typo = Toxic("latency_downstream", "latency", attributes={"latnecy": 300})
    c, _ = client((200, {**LATENCY, "attributes": {"latency": 0, "jitter": 0}}),
                  (200, {**LATENCY, "attributes": {"latency": 0, "jitter": 0}}))
    with pytest.raises(VerificationFailed, match=r"attribute 'latnecy' is unknown to a latency toxic"):
        c.add_toxic(EDGE, typo)


def test_add_toxic_missing_on_read_back_fails_verification() -> None:
    c, _ = client((200, LATENCY), error("toxic not found", 404))
    with pytest.raises(VerificationFailed, match="toxic 'latency_downstream' is not on proxy 'gateway->auth'"):
        c.add_toxic(EDGE, TOXIC)


@pytest.mark.parametrize(("field", "value"), [("stream", "upstream"), ("type", "bandwidth"), ("toxicity", 0.25)])
def test_add_toxic_read_back_with_another_field_fails_verification(field: str, value: Any) -> None:
    c, _ = client((200, LATENCY), (200, {**LATENCY, field: value}))
    with pytest.raises(VerificationFailed, match=f"{field}: expected .*, server has {value!r}"):
        c.add_toxic(EDGE, TOXIC)


def test_toxicity_is_compared_as_float32_not_exactly() -> None:
    c, _ = client((200, LATENCY), (200, {**LATENCY, "toxicity": 0.30000001192092896}))
    c.add_toxic(EDGE, Toxic("latency_downstream", "latency", toxicity=0.3, attributes={"latency": 300}))


def test_disable_that_reads_back_enabled_fails_verification() -> None:
    c, _ = client((200, DISABLED), (200, PROXY))
    with pytest.raises(VerificationFailed, match=r"enabled=False \(server has True\)"):
        c.disable(EDGE)


def test_create_proxy_with_another_upstream_on_read_back_fails_verification() -> None:
    c, _ = client((201, PROXY), (200, MOVED))
    with pytest.raises(VerificationFailed, match="upstream: expected '127.0.0.1:7001', server has '127.0.0.1:7002'"):
        c.create_proxy(SPEC)


def test_create_proxy_on_a_fixed_port_that_reads_back_another_port_fails_verification() -> None:
    c, _ = client((201, PROXY), (200, PROXY))
    with pytest.raises(VerificationFailed, match="listen: expected '127.0.0.1:5555'"):
        c.create_proxy(ProxySpec(EDGE, "127.0.0.1:5555", "127.0.0.1:7001"))


@pytest.mark.parametrize("write", [lambda c: c.create_proxy(SPEC), lambda c: c.disable(EDGE)])
def test_a_proxy_gone_on_read_back_fails_verification(write: Callable[[ToxiproxyClient], Any]) -> None:
    c, _ = client((200, PROXY), error("proxy not found", 404))
    with pytest.raises(VerificationFailed, match="proxy 'gateway->auth' is (missing|gone)"):
        write(c)


def test_populate_missing_a_proxy_on_read_back_fails_verification() -> None:
    c, _ = client((201, {"proxies": [PROXY]}), (200, {}))
    with pytest.raises(VerificationFailed, match="proxy 'gateway->auth' is missing"):
        c.populate([SPEC])


def test_populate_that_kept_a_disabled_proxy_fails_verification() -> None:
    c, _ = client((201, {"proxies": [DISABLED]}), (200, {EDGE: DISABLED}))
    with pytest.raises(VerificationFailed, match="enabled: expected True, server has False"):
        c.populate([SPEC])


def test_delete_proxy_still_there_on_read_back_fails_verification() -> None:
    c, _ = client((204, b""), (200, PROXY))
    with pytest.raises(VerificationFailed, match="the proxy is still there"):
        c.delete_proxy(EDGE)


def test_remove_toxic_still_there_on_read_back_fails_verification() -> None:
    c, _ = client((204, b""), (200, [LATENCY]))
    with pytest.raises(VerificationFailed, match="the toxic is still there"):
        c.remove_toxic(EDGE, "latency_downstream")


@pytest.mark.parametrize("leftover", [DISABLED, {**PROXY, "toxics": [LATENCY]}])
def test_reset_that_leaves_a_disabled_proxy_or_a_toxic_fails_verification(leftover: dict[str, Any]) -> None:
    c, _ = client((204, b""), (200, {EDGE: leftover, "other": {**PROXY, "name": "other"}}))
    with pytest.raises(VerificationFailed, match=r"gateway->auth: enabled=\w+ toxics=\[") as caught:
        c.reset()
    assert "other:" not in str(caught.value)


def test_update_toxic_checks_only_the_attributes_it_changed() -> None:
    c, _ = client((200, SLOWER), (200, {**SLOWER, "attributes": {"latency": 100, "jitter": 7}}))
    assert c.update_toxic(EDGE, "latency_downstream", attributes={"latency": 100}).attributes["latency"] == 100


def test_an_unexpected_2xx_shape_raises_toxiproxy_error() -> None:
    c, _ = client((200, {"surprise": True}))
    with pytest.raises(ToxiproxyError, match="unexpected shape"):
        c.proxy(EDGE)


def test_a_2xx_body_that_is_not_json_raises_toxiproxy_error() -> None:
    c, _ = client((200, b"<html>hello</html>"))
    with pytest.raises(ToxiproxyError, match="not JSON.*really a toxiproxy-server"):
        c.version()


@pytest.mark.parametrize("url", ["127.0.0.1:8474", "https://127.0.0.1:8474", "http://127.0.0.1", "http://:8474",
                                 "http://127.0.0.1:notaport"])
def test_a_bad_url_is_refused_naming_it(url: str) -> None:
    with pytest.raises(UsageError, match=f"got {url!r}"):
        ToxiproxyClient(url)


def test_update_calls_with_nothing_to_change_are_refused() -> None:
    c, fake = client()
    with pytest.raises(UsageError, match="needs at least one"):
        c.update_proxy(EDGE)
    with pytest.raises(UsageError, match="needs toxicity="):
        c.update_toxic(EDGE, "x")
    assert fake.calls == []


def test_all_is_sorted_and_complete() -> None:
    assert toxiproxy.__all__ == sorted(toxiproxy.__all__)
    assert {"HTTPTransport", "Proxy", "ProxySpec", "Toxic", "ToxiproxyClient", "Transport"} <= set(toxiproxy.__all__)


# -- HTTPTransport against a raw loopback socket: the reconnect and timeout paths ------------------

REPLY = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 21\r\n\r\n{\"version\": \"2.12.0\"}"


def serve(handle: Callable[[socket.socket, int], None]) -> tuple[int, list[int]]:
    """Accept connections on 127.0.0.1 in a daemon thread; handle(conn, index) each. Returns (port, indices)."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[int] = []

    def loop() -> None:
        with listener:
            while len(accepted) < 3:
                conn, _ = listener.accept()
                accepted.append(len(accepted))
                with conn:
                    handle(conn, accepted[-1])

    threading.Thread(target=loop, daemon=True).start()
    return listener.getsockname()[1], accepted


def read_request(conn: socket.socket) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk


def test_transport_reopens_a_connection_the_server_closed_while_idle() -> None:
    def handle(conn: socket.socket, index: int) -> None:
        read_request(conn)
        conn.sendall(REPLY)  # keep-alive reply, then hang up as an idle-timeout would
        if index > 0:
            read_request(conn)
            conn.sendall(REPLY)

    port, accepted = serve(handle)
    c = ToxiproxyClient(f"http://127.0.0.1:{port}", timeout_s=2.0)
    assert c.version() == "2.12.0"
    assert c.version() == "2.12.0"  # the first connection is dead by now
    assert c.version() == "2.12.0"  # the second one is kept alive
    assert accepted == [0, 1]
    c.close()


def test_transport_timeout_raises_unreachable() -> None:
    release = threading.Event()

    def handle(conn: socket.socket, index: int) -> None:
        read_request(conn)
        release.wait(5)

    port, _ = serve(handle)
    c = ToxiproxyClient(f"http://127.0.0.1:{port}", timeout_s=0.2)
    with pytest.raises(ToxiproxyUnreachable, match=r"did not answer while trying to report its version: no answer "
                                                   r"within 0.2 s; is toxiproxy-server still running\?"):
        c.version()
    release.set()


def test_transport_connection_refused_raises_unreachable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as held:
        port = held.getsockname()[1]
    transport = HTTPTransport("127.0.0.1", port)
    with pytest.raises(ToxiproxyUnreachable, match="ConnectionRefusedError"):
        ToxiproxyClient(f"http://127.0.0.1:{port}", transport=transport).proxies()
