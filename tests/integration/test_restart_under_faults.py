"""A process fault on a service that cannot finish starting while another fault is active.

The timeline seeds its posts into Redis before it calls itself healthy. With its Redis edge
down, a restarted timeline answers (503, "starting") but is not healthy until the edge heals.
Restart and the end of a Kill wait for the answer, not for health: the mesh's behaviour meanwhile
is what the journeys judge, and a harness that waited for health would stall for the service's
whole start timeout and then call the mesh broken. Bundled mesh, local runtime, real Redis and
Toxiproxy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Iterator

import pytest

from harness.chaos import Chaos
from harness.faults import Down, Kill, Restart
from harness.mesh import Mesh
from harness.observe.journeys import wait_for_recovery
from harness.topology import load_topology

pytestmark = pytest.mark.integration

TOPOLOGY = load_topology(Path(__file__).parents[2] / "services" / "topology.toml")
ANSWER_S = 3.0  # a restart answers in ~0.3 s; the start timeout it must not wait out is 10 s


@pytest.fixture(scope="module")
def running_mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mesh]:
    with Mesh(TOPOLOGY, mode="resilient", state_dir=tmp_path_factory.mktemp("state")) as mesh:
        mesh.steady_state()
        yield mesh


@pytest.fixture
def mesh(running_mesh: Mesh) -> Mesh:
    running_mesh.dirty = True  # the previous test restarted a service: settle before measuring again
    running_mesh.reset()
    return running_mesh


@pytest.fixture
def chaos(mesh: Mesh) -> Iterator[Chaos]:
    chaos = Chaos(mesh, observe=False)
    try:
        yield chaos
    finally:
        chaos.close()


def health(mesh: Mesh, service: str) -> tuple[int | None, bytes]:
    r = mesh.request(service, "GET", "/health", timeout_s=2.0)
    return r.status, r.body


def healthy_within(mesh: Mesh, service: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if health(mesh, service)[0] == 200:
            return True
        time.sleep(0.05)
    return False


def test_a_restart_whose_start_up_needs_a_faulted_dependency_returns_once_the_service_answers(
    mesh: Mesh, chaos: Chaos,
) -> None:
    with chaos.inject(Down("timeline->redis")):
        started = time.monotonic()
        with chaos.inject(Restart("timeline")):
            took = time.monotonic() - started
            status, body = health(mesh, "timeline")
            assert took < ANSWER_S, f"Restart took {took:.1f} s: it waited for health, not for an answer"
            assert status == 503 and b"seed" in body, (status, body)
        assert health(mesh, "timeline")[0] == 503  # still starting: its Redis edge is still down
    assert healthy_within(mesh, "timeline", 3.0), health(mesh, "timeline")
    rec = wait_for_recovery(mesh, mesh.steady_state().verdicts(), within_s=5.0)
    assert rec.recovered, {n: rec.last[n].reason for n in rec.still_off}


def test_the_end_of_a_kill_returns_once_the_service_answers_and_health_follows_the_heal(
    mesh: Mesh, chaos: Chaos,
) -> None:
    with chaos.inject(Down("timeline->redis")):
        with chaos.inject(Kill("timeline")):
            assert not mesh.runtime.is_running("timeline")
            started = time.monotonic()
        took = time.monotonic() - started  # the Kill's revert: a new timeline, answering
        assert took < ANSWER_S, f"the Kill's revert took {took:.1f} s"
        assert mesh.runtime.is_running("timeline")
        assert health(mesh, "timeline")[0] == 503
    assert healthy_within(mesh, "timeline", 3.0), health(mesh, "timeline")


def test_without_other_faults_a_restarted_service_is_healthy_soon_after_it_answers(
    mesh: Mesh, chaos: Chaos,
) -> None:
    with chaos.inject(Restart("timeline")):
        assert healthy_within(mesh, "timeline", 3.0), health(mesh, "timeline")
