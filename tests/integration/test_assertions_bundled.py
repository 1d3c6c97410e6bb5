"""Each graceful-degradation assertion against the bundled mesh: it holds on resilient, and on brittle it fails with evidence.

One case per assertion kind; the brittle side checks the message a reader would get (which
fault, which journeys, the journeys x (baseline, during, after) table, the fault timeline).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from harness.chaos import Chaos
from harness.faults import BadConfig, Down, Latency
from harness.observe.load import Load
from harness.mesh import Mesh
from harness.topology import load_topology
from services import presets

pytestmark = pytest.mark.integration

TOPOLOGY = load_topology(Path(__file__).parents[2] / "services" / "topology.toml")
PICKUP_S = 0.4  # services apply a config change within 200 ms


@pytest.fixture(scope="module")
def meshes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Mesh]]:
    """One mesh per mode, started on first use, reset before each use, all torn down at the end."""
    started: dict[str, Mesh] = {}

    def get(mode: str) -> Mesh:
        if mode not in started:
            started[mode] = Mesh(TOPOLOGY, mode=mode, state_dir=tmp_path_factory.mktemp("state")).start()
            started[mode].steady_state()  # the baseline, before any fault
        started[mode].reset()  # after a faulted test, waits until the journeys are back at it
        return started[mode]

    yield get
    for m in started.values():
        m.stop()


@pytest.fixture
def chaos_on(meshes: Callable[[str], Mesh]) -> Iterator[Callable[[str], Chaos]]:
    made: list[Chaos] = []

    def make(mode: str) -> Chaos:
        c = Chaos(meshes(mode))
        made.append(c)
        return c

    yield make
    for c in made:
        try:
            c.revert_all()
        finally:
            c.close()


# -- contracts ---------------------------------------------------------------------------------


def test_contracts_hold_when_media_is_slow_on_resilient(chaos_on):
    chaos = chaos_on("resilient")
    with chaos.inject(Latency("timeline->media", ms=2_000)):
        home = chaos.mesh.journey("home")
    assert home.verdict == "degraded" and home.elapsed_ms < 1_500
    chaos.assert_contracts()


def test_contracts_fail_with_evidence_when_brittle_waits_forever(chaos_on):
    chaos = chaos_on("brittle:timeouts")
    with chaos.inject(Latency("timeline->media", ms=2_000)):
        home = chaos.mesh.journey("home")
    assert home.verdict == "hung"
    with pytest.raises(AssertionError) as info:
        chaos.assert_contracts()
    msg = str(info.value)
    assert "Latency(timeline->media, ms=2000" in msg
    assert "journeys:" in msg and "baseline" in msg and "during" in msg
    assert "home" in msg and "hung" in msg
    assert "fault timeline:" in msg and "applied" in msg and "reverted" in msg


# -- blast radius -------------------------------------------------------------------------------


def end_free_api_access(mesh: Mesh) -> BadConfig:
    """The March 2023 push, to the gateway's entitlement rules in etcd; it returns once the gateway applied it."""
    rules = mesh.config("entitlements").current().document
    return BadConfig(presets.end_free_api_access(rules), name="end free API access", source="entitlements")


def test_the_march_2023_push_stays_inside_its_blast_radius_on_resilient(chaos_on):
    chaos = chaos_on("resilient")
    chaos.mesh.steady_state()
    with chaos.inject(end_free_api_access(chaos.mesh)):
        assert chaos.mesh.journey("thirdparty_free").verdict == "failed_fast"
    chaos.assert_blast_radius()
    chaos.assert_contracts()


def test_the_march_2023_push_cascades_to_first_parties_on_brittle(chaos_on):
    chaos = chaos_on("brittle:entitlement_coupling")
    chaos.mesh.steady_state()
    with chaos.inject(end_free_api_access(chaos.mesh)):
        chaos.mesh.journey("login")
    with pytest.raises(AssertionError) as info:
        chaos.assert_blast_radius()
    msg = str(info.value)
    assert "reached journey 'login'" in msg and "outside its blast radius" in msg
    assert "verdict full -> failed_fast" in msg
    assert "does not include access to this endpoint" in msg  # the body a user saw, in the table's evidence


# -- recovery -----------------------------------------------------------------------------------


def test_a_malformed_push_is_recovered_from_on_resilient(chaos_on):
    chaos = chaos_on("resilient")
    chaos.mesh.steady_state()
    with chaos.inject(BadConfig(raw=presets.malformed())):
        time.sleep(PICKUP_S)
    rec = chaos.assert_recovers(within_s=3.0)
    assert rec.recovered and rec.seconds < 3.0


def test_a_malformed_push_is_never_recovered_from_on_brittle(chaos_on):
    chaos = chaos_on("brittle:config_validation")
    chaos.mesh.steady_state()
    with chaos.inject(BadConfig(raw=presets.malformed())):
        time.sleep(PICKUP_S)
    with pytest.raises(AssertionError) as info:
        chaos.assert_recovers(within_s=2.0)
    msg = str(info.value)
    assert msg.startswith("not recovered within 2.0 s of the last revert:") and "home" in msg
    assert "after" in msg and "log tail: config" in msg


# -- lost writes --------------------------------------------------------------------------------


def posts_through_a_redis_outage(chaos: Chaos) -> Load:
    load = Load(chaos.mesh, ["post"], rate_per_s=20, duration_s=1.5)
    load.start()
    time.sleep(0.3)
    with chaos.inject(Down("timeline->redis")):
        time.sleep(0.6)
    load.wait()
    chaos.assert_recovers(within_s=3.0)
    return load


def test_no_acknowledged_post_is_lost_through_a_redis_outage_on_resilient(chaos_on):
    chaos = chaos_on("resilient")
    chaos.mesh.steady_state()
    load = posts_through_a_redis_outage(chaos)
    assert chaos.assert_no_lost_writes(load, "post") >= 3  # the posts before and after the outage


def test_acknowledged_posts_are_lost_by_early_ack_on_brittle(chaos_on):
    chaos = chaos_on("brittle:early_ack")
    chaos.mesh.steady_state()
    load = posts_through_a_redis_outage(chaos)
    with pytest.raises(AssertionError) as info:
        chaos.assert_no_lost_writes(load, "post")
    assert "acknowledged 'post' writes were lost (404 on read-back)" in str(info.value)


# -- retry amplification ------------------------------------------------------------------------


def amplification_of_home_with_timeline_down(chaos: Chaos, at_most: float) -> float:
    with chaos.inject(Down("gateway->timeline")):
        load = Load(chaos.mesh, ["home"], rate_per_s=20, duration_s=1.5)
        load.start()
        load.wait()
    return chaos.assert_amplification("gateway->timeline", requests=load.window().count, at_most=at_most)


def test_retries_stay_within_their_budget_on_resilient(chaos_on):
    assert amplification_of_home_with_timeline_down(chaos_on("resilient"), at_most=2.0) <= 2.0


def test_naive_retries_storm_a_dead_dependency_on_brittle(chaos_on):
    with pytest.raises(AssertionError) as info:
        amplification_of_home_with_timeline_down(chaos_on("brittle"), at_most=2.0)
    msg = str(info.value)
    assert msg.startswith("retry amplification on gateway->timeline:") and "bound 2.0" in msg
