"""HTTP faults through Chaos on the fixture mesh: Envoy on its HTTP edge by default, beside the edge's Toxiproxy."""

from __future__ import annotations

import pytest

from harness.chaos import Chaos
from harness.errors import InvalidFault
from harness.faults import HttpDelay, HttpError, HttpReplace, Latency
from harness.mesh import Mesh
from harness.clients.probe import http_request
from harness.topology import load_topology

from .conftest import MINI

pytestmark = pytest.mark.integration
EDGE = "front->back"
BODY_467 = {"errors": [{"message": "Your current API plan does not include access to this endpoint", "code": 467}]}


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with Mesh(load_topology(MINI), state_dir=tmp_path_factory.mktemp("state")) as m:
        yield m


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


def test_first_n_fails_exactly_the_next_n_requests_through_the_whole_edge(mesh):
    mesh.reset()
    chaos = Chaos(mesh, observe=False)
    try:
        before = back_pings(mesh)
        with chaos.inject(HttpError(EDGE, status=500, first=3)):
            statuses = [via_edge(mesh).status for _ in range(6)]
        assert statuses == [500, 500, 500, 200, 200, 200]
        assert back_pings(mesh) == before + 3
    finally:
        chaos.revert_all()
        chaos.close()


def test_a_delay_starts_the_answer_later_and_only_on_the_chosen_path(mesh):
    mesh.reset()
    chaos = Chaos(mesh, observe=False)
    try:
        with chaos.inject(HttpDelay(EDGE, ms=400, path="/ping", method="GET")):
            slow, fast = via_edge(mesh), via_edge(mesh, "/bytes/3")
        assert slow.body == b"pong" and slow.elapsed_ms >= 390  # Envoy's timers are millisecond-coarse
        assert fast.body == b"xxx" and fast.elapsed_ms < 400
        assert via_edge(mesh).elapsed_ms < 400  # reverted
    finally:
        chaos.revert_all()
        chaos.close()


def test_a_replace_lets_the_callee_do_the_work_and_the_caller_sees_the_replacement(mesh):
    mesh.reset()
    chaos = Chaos(mesh, observe=False)
    try:
        before = back_pings(mesh)
        fault = HttpReplace(EDGE, status=200, body="<html>oops</html>", headers={"content-type": "text/html"})
        with chaos.inject(fault):
            r = via_edge(mesh)
            front = mesh.journey("ping")
        assert (r.status, r.body, r.headers["content-type"]) == (200, b"<html>oops</html>", "text/html")
        assert back_pings(mesh) == before + 2  # the callee answered both (ours and the journey's)
        assert front.verdict != "full"  # front expected "pong" and got a page: not passed on as success
        assert via_edge(mesh).body == b"pong"
    finally:
        chaos.revert_all()
        chaos.close()


def test_reset_clears_an_http_fault_a_failed_test_left_behind(mesh):
    mesh.reset()
    engine = mesh.runtime.engine
    engine.add_rule(EDGE, HttpError(EDGE, status=418).rule())  # applied, never reverted
    assert via_edge(mesh).status == 418
    mesh.reset()
    assert via_edge(mesh).body == b"pong"
    assert [r["name"] for r in engine.served(EDGE)[1]] == ["callee"]  # read back from Envoy itself
