"""A user's toxiproxy-python 0.1.1 script works against a Cascade-started Toxiproxy, side by side with our client."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest
import toxiproxy as toxiproxy_python
from toxiproxy.api import APIConsumer

from harness.errors import ToxiproxyUnreachable
from harness.provision import find_toxiproxy
from harness.toxiproxy import ProxySpec, Toxic, ToxiproxyClient

pytestmark = pytest.mark.integration

EDGE = "gateway->auth"


@contextlib.contextmanager
def running_toxiproxy(log_path: Path) -> Iterator[tuple[ToxiproxyClient, int]]:
    """Run toxiproxy-server on 127.0.0.1 and a free port until the block ends; yield our client and the port."""
    server = find_toxiproxy(log=print).server
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
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


@pytest.fixture(scope="session")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ToxiproxyClient, int]]:
    with running_toxiproxy(tmp_path_factory.mktemp("toxiproxy-compat") / "server.log") as started:
        yield started


@pytest.fixture
def ours(started: tuple[ToxiproxyClient, int]) -> Iterator[ToxiproxyClient]:
    """Cascade's client; every proxy is deleted after each test."""
    client, _ = started
    yield client
    for name in client.proxies():
        client.delete_proxy(name)


@pytest.fixture
def theirs(started: tuple[ToxiproxyClient, int]) -> Iterator[toxiproxy_python.Toxiproxy]:
    """toxiproxy-python pointed at the Cascade-started server, the way a user's script would do it."""
    # toxiproxy-python keeps host and port as class attributes, i.e. process-global: put them back after.
    saved = (APIConsumer.host, APIConsumer.port)
    server = toxiproxy_python.Toxiproxy()
    server.update_api_consumer("127.0.0.1", started[1])
    yield server
    APIConsumer.host, APIConsumer.port = saved


def test_their_script_sees_the_server_and_our_proxies(ours: ToxiproxyClient, theirs) -> None:
    ours.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", "127.0.0.1:9"))
    assert theirs.running()
    assert b"2.12.0" in theirs.version()
    listed = theirs.proxies()
    assert list(listed) == [EDGE]
    assert (listed[EDGE].listen, listed[EDGE].upstream, listed[EDGE].enabled) == (
        ours.proxy(EDGE).listen, "127.0.0.1:9", True)


def test_a_toxic_they_add_is_read_back_by_our_client(ours: ToxiproxyClient, theirs) -> None:
    ours.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", "127.0.0.1:9"))
    theirs.get_proxy(EDGE).add_toxic(type="latency", attributes={"latency": 120})
    assert ours.toxics(EDGE) == (
        Toxic("latency_downstream", "latency", "downstream", 1.0, {"latency": 120, "jitter": 0}),
    )


def test_a_toxic_we_add_is_seen_by_their_script(ours: ToxiproxyClient, theirs) -> None:
    ours.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", "127.0.0.1:9"))
    ours.add_toxic(EDGE, Toxic("cut", "bandwidth", "upstream", 0.5, {"rate": 16}))
    toxics = theirs.get_proxy(EDGE).toxics()
    assert list(toxics) == ["cut"]
    cut = toxics["cut"]
    assert (cut.type, cut.stream, cut.toxicity, cut.attributes) == ("bandwidth", "upstream", 0.5, {"rate": 16})


def test_a_proxy_they_create_and_take_down_is_seen_by_our_client(ours: ToxiproxyClient, theirs) -> None:
    theirs.create(upstream="127.0.0.1:9", name="legacy->script", listen="127.0.0.1:0")
    assert ours.proxy("legacy->script").enabled is True
    with theirs.get_proxy("legacy->script").down():
        assert ours.proxy("legacy->script").enabled is False
    assert ours.proxy("legacy->script").enabled is True


def test_their_reset_and_destroy_are_verified_by_our_client(ours: ToxiproxyClient, theirs) -> None:
    ours.create_proxy(ProxySpec(EDGE, "127.0.0.1:0", "127.0.0.1:9"))
    ours.add_toxic(EDGE, Toxic("slow", "latency", attributes={"latency": 10}))
    ours.disable(EDGE)
    assert theirs.reset()
    assert ours.proxy(EDGE).enabled and ours.toxics(EDGE) == ()
    with pytest.raises(toxiproxy_python.exceptions.NotFound, match="toxic not found"):
        theirs.get_proxy(EDGE).destroy_toxic("nothing-here")
    assert theirs.get_proxy(EDGE).destroy()
    assert ours.proxies() == {}
