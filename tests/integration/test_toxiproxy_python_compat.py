"""A user's toxiproxy-python 0.1.1 script works against a Cascade-started Toxiproxy, side by side with our client."""

from __future__ import annotations

from typing import Iterator

import pytest
import toxiproxy as toxiproxy_python
from toxiproxy.api import APIConsumer

from harness.mesh import Mesh
from harness.topology import load_topology
from harness.clients.toxiproxy import ProxySpec, Toxic, ToxiproxyClient

from .conftest import MINI

pytestmark = pytest.mark.integration

EDGE = "gateway->auth"


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ToxiproxyClient, int]]:
    """A Toxiproxy started by the harness itself (the fixture mesh's), as a user's mesh would have."""
    with Mesh(load_topology(MINI), state_dir=tmp_path_factory.mktemp("state")) as mesh:
        yield mesh.toxiproxy, mesh.runtime.toxiproxy_port


@pytest.fixture
def ours(started: tuple[ToxiproxyClient, int]) -> Iterator[ToxiproxyClient]:
    """Cascade's client; every proxy is deleted after each test."""
    client, _ = started
    for name in client.proxies():  # start from an empty server: the mesh's own proxy goes too
        client.delete_proxy(name)
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
