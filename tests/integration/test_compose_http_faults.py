"""HTTP faults on the compose runtime: Envoy in its own container on every HTTP edge of the bundled mesh.

    gateway ──> toxiproxy container ──> envoy container ──> media container
                (the edge's proxy)      (its listener: HTTP faults)

Needs a Docker engine (docker/engine.sh) and the images (docker/build-images.sh), as
test_compose_runtime.py does; skipped with the reason otherwise, unless CASCADE_REQUIRE_DOCKER=1.
What reaches the callee is read from media's own /counters (requests other than plumbing), so
"never reached it" is media's word, not the engine's. Runs on the compose version the runtime picks.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

from harness.chaos import Chaos
from harness.clients.envoy import EnvoyEngine
from harness.clients.probe import Response, http_request
from harness.errors import MeshNotReady
from harness.faults import HttpDelay, HttpError
from harness.mesh import Mesh
from harness.runtime.base import engine_edges
from harness.runtime.compose_plan import ENVOY_SERVICE
from harness.topology import load_topology

from .conftest import skip_module_without_compose

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
TOPOLOGY = load_topology(ROOT / "services" / "topology.toml")
EDGE = "gateway->media"
BODY_467 = {"errors": [{"message": "Your current API plan does not include access to this endpoint", "code": 467}]}


skip_module_without_compose()


def _containers(project: str) -> list[str]:
    done = subprocess.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                           "--format", "{{.Names}}"], capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.split()


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    if not engine_edges(TOPOLOGY):
        pytest.skip("CASCADE_HTTP_ENGINE=off: no HTTP engine to test")
    m = Mesh(TOPOLOGY, runtime="compose", state_dir=tmp_path_factory.mktemp("state"))
    try:
        m.start()
        yield m
    finally:
        m.stop()
        project = getattr(m.runtime, "project", "")
        assert project and _containers(project) == []  # envoy's container too


def media_requests(mesh: Mesh) -> int:
    """The requests media itself has served (its /counters; health and counters reads are not counted)."""
    r = mesh.request("media", "GET", "/counters", timeout_s=5)
    assert r.status == 200, r.body[:200]
    return int(r.json()["requests"])


def via_edge(mesh: Mesh, path: str = "/meta/3") -> Response:
    """A request the way gateway sends it: to the edge's Toxiproxy proxy (published on 127.0.0.1)."""
    host, port = mesh.proxy_address(EDGE)
    return http_request(host, port, "GET", path, timeout_s=5.0)


def _chaos(mesh: Mesh) -> Chaos:
    mesh.reset()
    return Chaos(mesh, observe=False)


def test_the_engine_runs_in_its_own_container_and_serves_every_http_edge_at_rest(mesh: Mesh) -> None:
    engine = mesh.runtime.engine
    assert isinstance(engine, EnvoyEngine)
    assert sorted(engine.edges) == sorted(e.name for e in TOPOLOGY.edges.values() if e.is_http)
    served = engine.served_all()  # read from Envoy's /config_dump through its published admin port
    assert {edge: [r["name"] for r in routes] for edge, (_v, routes) in served.items()} == {
        edge: ["callee"] for edge in engine.edges}
    c = mesh.runtime.container(ENVOY_SERVICE)
    assert c.attrs["State"]["Status"] == "running" and c.attrs["Config"]["User"] == "65534:65534"
    (mount,) = c.attrs["Mounts"]  # the run's envoy directory, read-only, and nothing else of the host
    assert mount["Type"] == "bind" and mount["RW"] is False and mount["Destination"] == "/etc/cascade/envoy", mount
    r = via_edge(mesh)
    assert r.status == 200 and r.json()["id"] == 3, r.body[:200]


def test_an_http_error_answers_the_caller_and_never_reaches_the_callee(mesh: Mesh) -> None:
    chaos = _chaos(mesh)
    engine = mesh.runtime.engine
    try:
        before = media_requests(mesh)
        with chaos.inject(HttpError(EDGE, status=403, body=BODY_467)):
            assert [r["name"] for r in engine.served(EDGE)[1]] == ["fault_0_abort", "callee"]
            r = via_edge(mesh)
            image = mesh.journey("image")  # gateway -> media, through the same proxy and listener
            during = media_requests(mesh)
        assert r.status == 403 and r.json() == BODY_467 and r.headers["content-type"] == "application/json"
        assert image.verdict != "full", image  # gateway got the 403, not media's image
        assert during == before  # media's own count: neither request reached it
        version, routes = engine.served(EDGE)
        assert [r["name"] for r in routes] == ["callee"], (version, routes)  # reverted, read back from Envoy
        after = via_edge(mesh)
        assert after.status == 200 and after.json()["id"] == 3
        assert media_requests(mesh) == before + 1  # and the edge reaches media again
    finally:
        chaos.revert_all()
        chaos.close()
    assert [(e.action, e.kind) for e in chaos.timeline] == [("applied", "http_error"), ("reverted", "http_error")]


def test_an_http_delay_starts_the_answer_later_and_is_reverted(mesh: Mesh) -> None:
    chaos = _chaos(mesh)
    engine = mesh.runtime.engine
    try:
        before = min(via_edge(mesh).elapsed_ms for _ in range(3))
        assert before < 300, f"the edge took {before:.0f} ms at rest: too slow to show a 400 ms delay"
        seen = media_requests(mesh)
        with chaos.inject(HttpDelay(EDGE, ms=400, path="/meta/*")):
            slow, other = via_edge(mesh), via_edge(mesh, "/media/3")
        assert slow.status == 200 and slow.json()["id"] == 3  # delayed, then served by media itself
        assert 390 <= slow.elapsed_ms < 400 + 2_000, slow.elapsed_ms  # Envoy's timers are millisecond-coarse
        assert other.status == 200 and other.elapsed_ms < 400, other.elapsed_ms  # another path: not delayed
        assert media_requests(mesh) == seen + 2
        assert [r["name"] for r in engine.served(EDGE)[1]] == ["callee"]
        assert via_edge(mesh).elapsed_ms < 400  # reverted
    finally:
        chaos.revert_all()
        chaos.close()


def test_the_edge_follows_the_callee_to_a_new_address(mesh: Mesh) -> None:
    # Envoy reaches media by name (a DNS cluster), as Toxiproxy did: when media comes back on another
    # IP (here its old one is taken while it is away), the edge must reach it there.
    mesh.reset()
    rt = mesh.runtime
    c = rt.container("media")
    ((net, cfg),) = c.attrs["NetworkSettings"]["Networks"].items()
    network = rt._docker.networks.get(net)
    c.stop(timeout=2)
    network.disconnect(c)
    squatter = rt._docker.containers.run(  # takes the freed address; in the project, so `down` would reap it
        "cascade/python:dev", ["python", "-c", "import time; time.sleep(60)"], network=net, detach=True,
        labels={"com.docker.compose.project": rt.project})
    try:
        network.connect(c, aliases=cfg.get("Aliases") or ["media"])
        rt.restart("media")
        new = rt.container("media").attrs["NetworkSettings"]["Networks"][net]["IPAddress"]
        assert new != cfg["IPAddress"], "media came back on its old address: nothing to follow"
        deadline = time.monotonic() + 3.0  # DNS_REFRESH is 0.5 s
        while (r := via_edge(mesh)).status != 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert r.status == 200 and r.json()["id"] == 3, (cfg["IPAddress"], new, r.status, r.body[:200])
    finally:
        squatter.remove(force=True)


def test_reset_clears_an_http_fault_a_failed_test_left_behind(mesh: Mesh) -> None:
    mesh.reset()
    engine = mesh.runtime.engine
    engine.add_rule(EDGE, HttpError(EDGE, status=418).rule())  # applied, never reverted
    assert via_edge(mesh).status == 418
    mesh.reset()
    assert via_edge(mesh).status == 200
    assert [r["name"] for r in engine.served(EDGE)[1]] == ["callee"]


def test_an_envoy_that_cannot_start_is_named_with_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prepare = EnvoyEngine.prepare
    monkeypatch.setattr(EnvoyEngine, "prepare", lambda self, **kw: [*prepare(self, **kw), "--no-such-flag"])
    broken = Mesh(TOPOLOGY, runtime="compose", state_dir=tmp_path / "state")
    with pytest.raises(MeshNotReady) as info:
        broken.start()
    message = str(info.value)
    assert message.startswith(f"{ENVOY_SERVICE} exited with code"), message
    assert "docker logs" in message and "no-such-flag" in message, message  # the container and its log tail
    assert _containers(broken.runtime.project) == []  # torn down, envoy's container too
