"""HttpError through Chaos on the fixture mesh, with Envoy on its HTTP edge (CASCADE_HTTP_ENGINE=1): WIP of #20."""

from __future__ import annotations

import pytest

from harness.chaos import Chaos
from harness.errors import InvalidFault
from harness.faults import HttpError, Latency
from harness.mesh import Mesh
from harness.clients.probe import http_request
from harness.topology import load_topology

from .conftest import MINI

pytestmark = pytest.mark.integration
EDGE = "front->back"
BODY_467 = {"errors": [{"message": "Your current API plan does not include access to this endpoint", "code": 467}]}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CASCADE_HTTP_ENGINE", "1")
    try:
        with Mesh(load_topology(MINI), state_dir=tmp_path_factory.mktemp("state")) as m:
            yield m
    finally:
        mp.undo()


def back_pings(mesh) -> int:
    return sum('"GET /ping' in line for line in mesh.logs("back", lines=100_000))


def via_edge(mesh, path="/ping"):
    host, port = mesh.proxy_address(EDGE)
    return http_request(host, port, "GET", path, timeout_s=5.0)


def test_an_http_error_answers_the_caller_and_never_reaches_the_callee(mesh):
    mesh.reset()
    chaos = Chaos(mesh, observe=False)
    try:
        before = back_pings(mesh)
        with chaos.inject(HttpError(EDGE, status=403, body=BODY_467)):
            r = via_edge(mesh)
            front = mesh.journey("ping")
        assert r.status == 403 and r.json() == BODY_467 and r.headers["content-type"] == "application/json"
        assert front.verdict != "full"  # front passed the 403 on as its own failure
        assert back_pings(mesh) == before  # the callee's own log: no request reached it
        assert via_edge(mesh).body == b"pong"  # reverted
    finally:
        chaos.revert_all()
        chaos.close()
    assert [(e.action, e.kind) for e in chaos.timeline] == [("applied", "http_error"), ("reverted", "http_error")]


def test_tcp_and_http_faults_together_on_one_edge(mesh):
    mesh.reset()
    chaos = Chaos(mesh, observe=False)
    try:
        with chaos.inject(Latency(EDGE, ms=200), HttpError(EDGE, status=503, path="/ping")):
            r = via_edge(mesh)
            other = via_edge(mesh, "/bytes/3")
        assert r.status == 503 and r.elapsed_ms >= 200
        assert other.status == 200 and other.body == b"xxx" and other.elapsed_ms >= 200
    finally:
        chaos.revert_all()
        chaos.close()


def test_an_http_fault_on_a_tcp_edge_is_refused_by_name(tmp_path):
    from harness.topology import Topology  # noqa: F401 - the bundled topology has Redis edges

    topo = load_topology(MINI.parents[2].parent / "services" / "topology.toml")
    with pytest.raises(InvalidFault, match="timeline->redis is not an HTTP edge"):
        HttpError("timeline->redis", status=503).validate(topo)
