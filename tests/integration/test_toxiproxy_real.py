"""ToxiproxyClient against the real toxiproxy-server 2.12.0, started here on 127.0.0.1 with a free port."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import statistics
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest

from harness.errors import ToxiproxyError, ToxiproxyUnreachable, VerificationFailed
from harness.runtime.provision import TOXIPROXY_VERSION, find_toxiproxy
from harness.clients.toxiproxy import Proxy, ProxySpec, Toxic, ToxiproxyClient

pytestmark = pytest.mark.integration

EDGE = "gateway->auth"


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_toxiproxy(log_path: Path, port: int | None = None) -> Iterator[tuple[ToxiproxyClient, int]]:
    """Run toxiproxy-server on 127.0.0.1 until the block ends; yield a client of it and its port."""
    server = find_toxiproxy(log=print).server
    port = port or free_port()
    with open(log_path, "ab") as log:
        proc = subprocess.Popen([str(server), "-host", "127.0.0.1", "-port", str(port)], stdout=log, stderr=log)
    client = ToxiproxyClient(f"http://127.0.0.1:{port}")
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                client.version()
                break
            except ToxiproxyUnreachable:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"toxiproxy-server on port {port} did not start; its log:\n{log_path.read_text()}")
                time.sleep(0.02)
        yield client, port
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Upstream(socketserver.ThreadingTCPServer):
    """A tiny TCP server on 127.0.0.1 that answers every chunk with its tag and the chunk."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, tag: bytes) -> None:
        self.tag = tag
        super().__init__(("127.0.0.1", 0), UpstreamHandler)

    @property
    def address(self) -> str:
        return "127.0.0.1:%d" % self.server_address[1]


class UpstreamHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while chunk := self.request.recv(4096):
            self.request.sendall(self.server.tag + chunk)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def toxiproxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ToxiproxyClient]:
    with running_toxiproxy(tmp_path_factory.mktemp("toxiproxy") / "server.log") as (client, _):
        yield client


@pytest.fixture(scope="session")
def upstreams() -> Iterator[tuple[Upstream, Upstream]]:
    servers = (Upstream(b"A:"), Upstream(b"B:"))
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield servers
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def client(toxiproxy: ToxiproxyClient) -> Iterator[ToxiproxyClient]:
    """The session server's client; every proxy a test made is deleted after it."""
    yield toxiproxy
    for name in toxiproxy.proxies():
        toxiproxy.delete_proxy(name)


def ask(listen: str, payload: bytes = b"ping") -> tuple[bytes, float]:
    """Open a connection through `listen`, send payload, return (answer, seconds from connect to answer)."""
    host, port = listen.rsplit(":", 1)
    started = time.perf_counter()
    with socket.create_connection((host, int(port)), timeout=5) as conn:
        conn.sendall(payload)
        answer = b""
        while len(answer) < len(payload) + 2:
            chunk = conn.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer, time.perf_counter() - started


def test_the_server_is_the_pinned_version(client: ToxiproxyClient) -> None:
    assert client.version() == TOXIPROXY_VERSION == "2.12.0"


def test_create_show_list_and_delete_a_proxy_named_for_its_edge(client: ToxiproxyClient, upstreams) -> None:
    created = client.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address))
    assert created.name == EDGE and created.enabled and created.toxics == ()
    assert created.listen.startswith("127.0.0.1:") and not created.listen.endswith(":0")
    assert client.proxy(EDGE) == created
    assert client.proxies() == {EDGE: created}
    assert ask(created.listen)[0] == b"A:ping"
    client.delete_proxy(EDGE)
    assert client.proxies() == {}
    with pytest.raises(ConnectionRefusedError):
        ask(created.listen)


def test_populate_creates_many_in_one_request(client: ToxiproxyClient, upstreams) -> None:
    a, b = upstreams
    made = client.populate([
        ProxySpec("timeline->redis", "127.0.0.1:0", a.address),
        ProxySpec("timeline->media", "127.0.0.1:0", b.address, enabled=False),
    ])
    assert sorted(made) == ["timeline->media", "timeline->redis"]
    assert client.proxies() == made
    assert ask(made["timeline->redis"].listen)[0] == b"A:ping"
    assert made["timeline->media"].enabled is False


def test_update_moves_the_upstream(client: ToxiproxyClient, upstreams) -> None:
    a, b = upstreams
    proxy = client.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", a.address))
    moved = client.update_proxy(EDGE, upstream=b.address)
    assert moved.upstream == b.address
    assert ask(moved.listen)[0] == b"B:ping"
    assert ask(proxy.listen)[0] == b"B:ping"  # the listen address stays as it was


def test_a_disabled_proxy_refuses_connections_until_enabled(client: ToxiproxyClient, upstreams) -> None:
    proxy = client.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address))
    assert client.disable(EDGE).enabled is False
    assert client.proxy(EDGE).enabled is False
    with pytest.raises(ConnectionRefusedError):
        ask(proxy.listen)
    assert client.enable(EDGE).enabled is True
    assert ask(proxy.listen)[0] == b"A:ping"


def test_add_update_and_remove_toxics(client: ToxiproxyClient, upstreams) -> None:
    client.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address))
    latency = client.add_toxic(EDGE, Toxic("latency_downstream", "latency", attributes={"latency": 50}))
    assert latency == Toxic("latency_downstream", "latency", "downstream", 1.0, {"latency": 50, "jitter": 0})
    limit = client.add_toxic(EDGE, Toxic("cap", "limit_data", "upstream", 0.5, {"bytes": 1024}))
    assert client.toxics(EDGE) == (limit, latency)  # the server lists the upstream stream first
    updated = client.update_toxic(EDGE, "latency_downstream", toxicity=0.25, attributes={"jitter": 5})
    assert updated == Toxic("latency_downstream", "latency", "downstream", 0.25, {"latency": 50, "jitter": 5})
    client.remove_toxic(EDGE, "latency_downstream")
    assert client.toxics(EDGE) == (limit,)
    assert client.proxy(EDGE).toxics == (limit,)


def test_reset_enables_every_proxy_and_removes_every_toxic(client: ToxiproxyClient, upstreams) -> None:
    a, b = upstreams
    client.populate([ProxySpec("x->a", "127.0.0.1:0", a.address), ProxySpec("x->b", "127.0.0.1:0", b.address)])
    client.add_toxic("x->a", Toxic("slow", "latency", attributes={"latency": 1000}))
    client.add_toxic("x->b", Toxic("gone", "timeout", attributes={"timeout": 0}))
    client.disable("x->b")
    client.reset()
    assert all(p.enabled and p.toxics == () for p in client.proxies().values())
    assert ask(client.proxy("x->b").listen)[1] < 0.5


def test_a_300_ms_latency_toxic_shows_in_the_response_time(client: ToxiproxyClient, upstreams) -> None:
    proxy = client.create_proxy(ProxySpec("timeline->media", "127.0.0.1:0", upstreams[0].address))
    answer, before = ask(proxy.listen)
    assert answer == b"A:ping" and before < 0.2
    client.add_toxic(proxy.name, Toxic("latency_downstream", "latency", attributes={"latency": 300}))
    answer, slowed = ask(proxy.listen)
    assert answer == b"A:ping"
    assert 0.280 <= slowed < 0.300 + 1.5
    client.remove_toxic(proxy.name, "latency_downstream")
    assert ask(proxy.listen)[1] < 0.2


def test_404_and_409_carry_status_and_server_text(client: ToxiproxyClient, upstreams) -> None:
    spec = ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address)
    client.create_proxy(spec)
    cases = [
        (lambda: client.proxy("nobody->home"), 404, "proxy not found", "show proxy 'nobody->home'"),
        (lambda: client.create_proxy(spec), 409, "proxy already exists", f"create proxy '{EDGE}'"),
        (lambda: client.remove_toxic(EDGE, "nope"), 404, "toxic not found", "remove toxic 'nope'"),
        (lambda: client.add_toxic(EDGE, Toxic("t", "no_such_type")), 400, "invalid toxic type", "add toxic 't'"),
    ]
    client.add_toxic(EDGE, Toxic("latency_downstream", "latency", attributes={"latency": 1}))
    cases.append((lambda: client.add_toxic(EDGE, Toxic("latency_downstream", "latency")), 409,
                  "toxic already exists", f"add toxic 'latency_downstream' to proxy '{EDGE}'"))
    for call, status, text, doing in cases:
        with pytest.raises(ToxiproxyError) as caught:
            call()
        assert caught.value.status == status
        assert text in caught.value.body
        assert str(caught.value).startswith(f"Toxiproxy refused to {doing}")
        assert f": {status} {text}; " in str(caught.value)


def test_an_attribute_the_server_ignores_fails_verification(client: ToxiproxyClient, upstreams) -> None:
    client.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address))
    with pytest.raises(VerificationFailed, match="attribute 'latnecy' is unknown to a latency toxic"):
        client.add_toxic(EDGE, Toxic("typo", "latency", attributes={"latnecy": 300}))


def test_verify_false_still_writes(client: ToxiproxyClient, upstreams) -> None:
    quick = ToxiproxyClient(client.url, verify=False)
    quick.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address))
    quick.add_toxic(EDGE, Toxic("slow", "latency", attributes={"latency": 10}))
    assert [t.name for t in client.toxics(EDGE)] == ["slow"]
    quick.close()


def test_add_and_remove_with_verification_is_fast(client: ToxiproxyClient, upstreams) -> None:
    client.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address))
    toxic = Toxic("latency_downstream", "latency", attributes={"latency": 300})
    cycles = []
    for _ in range(50):
        started = time.perf_counter()
        client.add_toxic(EDGE, toxic)
        client.remove_toxic(EDGE, toxic.name)
        cycles.append(time.perf_counter() - started)
    assert statistics.median(cycles) < 0.020


def test_a_restarted_server_is_reached_again_and_a_stopped_one_is_unreachable(tmp_path: Path) -> None:
    with running_toxiproxy(tmp_path / "first.log") as (first, port):
        survivor = ToxiproxyClient(first.url, timeout_s=1.0)
        assert survivor.version() == TOXIPROXY_VERSION  # its kept-alive connection goes stale below
    with running_toxiproxy(tmp_path / "second.log", port=port):
        assert survivor.proxies() == {}  # the stale connection was reopened without the caller noticing
    with pytest.raises(ToxiproxyUnreachable, match=f"Toxiproxy at http://127.0.0.1:{port} did not answer .*"
                                                   "ConnectionRefusedError.*still running"):
        survivor.proxies()
    survivor.close()


def test_proxy_values_are_typed(client: ToxiproxyClient, upstreams) -> None:
    proxy = client.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", upstreams[0].address))
    assert isinstance(proxy, Proxy) and isinstance(proxy.enabled, bool)
