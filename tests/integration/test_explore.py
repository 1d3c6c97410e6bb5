"""Exploration against the bundled mesh: brittle breaks and shrinks, resilient holds, journals replay, scenarios run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.explore.explorer import Explorer
from harness.explore.journal import Journal, replay, scenario_text
from harness.mesh import Mesh
from harness.topology import load_topology
import harness.explore.trial as trial_module
from harness.faults import Bandwidth, Latency
from harness.explore.trial import Trial, explore_config

pytestmark = pytest.mark.integration

BUNDLED = Path(__file__).parents[2] / "services" / "topology.toml"
BUDGET_S = 25.0  # the same for both modes; a brittle knob is usually caught in a few seconds
KNOB = "fallbacks"
SEED = 3


def _mesh(mode: str, tmp_path_factory: pytest.TempPathFactory):
    with Mesh(load_topology(BUNDLED), mode=mode, state_dir=tmp_path_factory.mktemp("state")) as mesh:
        mesh.steady_state()
        yield mesh


@pytest.fixture(scope="module")
def brittle(tmp_path_factory):
    yield from _mesh(f"brittle:{KNOB}", tmp_path_factory)


@pytest.fixture(scope="module")
def found(brittle, tmp_path_factory):
    """One exploration of the brittle mesh, shared by the tests that look at what it found."""
    tmp = tmp_path_factory.mktemp("explore")
    return Explorer(brittle, seed=SEED, budget_s=BUDGET_S, topology_path=str(BUNDLED), database_dir=tmp / "db",
                    journal_dir=tmp / "journals", process_faults=False, config_faults=False).run()


def test_exploring_a_brittle_mesh_finds_a_failure_and_shrinks_it_to_at_most_two_faults(found):
    assert found.failed, f"no failure in {found.examples} examples on brittle:{KNOB}"
    assert found.first_failure_s < BUDGET_S
    injected = [s.fault for s in found.journal.steps if s.action == "inject"]
    assert 1 <= len(injected) <= 2, [f.describe() for f in injected]
    assert found.journal.checks[-1].broken, "the journal ends with the check that broke"
    assert Journal.load(found.journal_path) == found.journal
    assert (found.journal.seed, found.journal.mode) == (SEED, f"brittle:{KNOB}")


def test_a_replayed_journal_shows_the_same_verdicts(found, brittle):
    result = replay(brittle, Journal.load(found.journal_path))
    assert result.same, "\n".join(result.differences)
    assert [c.broken != () for c in result.checks] == [c.broken != () for c in found.journal.checks]


def test_the_emitted_scenario_fails_on_the_brittle_mesh_and_passes_on_the_resilient_one(found, tmp_path):
    scenario = tmp_path / "test_found.py"
    scenario.write_text(scenario_text(found.journal))
    runs = {}
    for mode in (f"brittle:{KNOB}", "resilient"):
        runs[mode] = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(scenario),
             f"--cascade-topology={BUNDLED}", f"--cascade-mode={mode}", f"--rootdir={tmp_path}"],
            capture_output=True, text=True, timeout=180, cwd=tmp_path)
    brittle_run, resilient_run = runs[f"brittle:{KNOB}"], runs["resilient"]
    assert brittle_run.returncode == 1 and "1 failed" in brittle_run.stdout, brittle_run.stdout + brittle_run.stderr
    assert found.journal.message.split(" (")[0] in brittle_run.stdout  # the same journey, the same verdict
    assert resilient_run.returncode == 0 and "1 passed" in resilient_run.stdout, resilient_run.stdout


@pytest.fixture
def resilient(tmp_path_factory):
    yield from _mesh("resilient", tmp_path_factory)


def test_exploring_a_resilient_mesh_finds_nothing_in_the_same_budget(resilient, tmp_path):
    result = Explorer(resilient, seed=SEED, budget_s=BUDGET_S, database_dir=tmp_path / "db",
                      journal_dir=tmp_path / "journals", process_faults=False, config_faults=False).run()
    assert not result.failed, result.journal.message if result.journal else ""
    assert result.examples >= 10 and result.seconds >= BUDGET_S
    assert not (tmp_path / "journals").exists()


def test_explore_config_is_in_force_while_exploring_and_rolled_back_after(brittle):
    """The bundled topology's explore_config (breakers reset after 200 ms) runs on every consumer, then goes."""
    config = brittle.config()
    before = config.current()
    assert before.document["breaker"]["reset_timeout_ms"] == 1_000
    with explore_config(brittle) as version:
        assert config.current().document["breaker"]["reset_timeout_ms"] == 200
        running = {n: brittle.counters(n).get("config_version") for n in ("gateway", "timeline", "links", "deck")}
        assert running == dict.fromkeys(running, version)
    after = config.current()
    assert after.raw == before.raw and after.version > version
    assert brittle.counters("timeline")["config_version"] == after.version


def test_a_delaying_toxic_is_removed_at_once_unless_a_caller_gave_up_on_it(resilient, monkeypatch):
    """The drain before removing a latency toxic (Toxiproxy #558) is only waited when the caller timed out."""
    slept: list[float] = []
    real_sleep = trial_module.time.sleep
    monkeypatch.setattr(trial_module.time, "sleep", lambda s: (slept.append(s), real_sleep(s)))
    trial = Trial(resilient)  # a fresh mesh: no breaker left open by an earlier test, so timeline does call media
    try:
        trial.inject(Bandwidth("deck->gateway", kbps=100_000))  # held to the end: no recovery check in between
        trial.inject(Latency("timeline->media", ms=60))  # well inside timeline's 300 ms media timeout
        slept.clear()
        trial.heal(1)
        quick = sum(slept)
        trial.inject(Latency("timeline->media", ms=1_200))  # past it: timeline gives up on media
        slept.clear()
        trial.heal(1)
        drained = sum(slept)
    finally:
        trial.abandon()
    assert quick == 0.0
    assert drained > 0.5  # 1.2 s + margin after the last journey, less the time the judging took


def _cascade(*args, cwd):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=60,
                          cwd=cwd)


@pytest.mark.parametrize(("args", "message"), [
    (("--budget", "5x"), "cascade: error: --budget 5x: use 30s, 5m"),
    (("--workers", "0"), "cascade: error: --workers 0: use 1 to 8 (each worker runs a whole mesh)"),
])  # fmt: skip
def test_bad_input_is_refused_before_anything_starts(tmp_path, args, message):
    r = _cascade("explore", *args, f"--topology={BUNDLED}", cwd=tmp_path)
    assert (r.returncode, r.stderr.strip()) == (2, message)
    assert not (tmp_path / ".cascade").exists()


def test_replay_emits_a_scenario_from_a_journal_without_starting_a_mesh(found, tmp_path):
    target = tmp_path / "test_emitted.py"
    r = _cascade("replay", str(found.journal_path), "--emit-scenario", str(target), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert target.read_text() == scenario_text(found.journal)


def test_no_bad_config_push_while_the_config_service_is_killed(resilient):
    """The push, and the rollback that reverts it, need the config service: the explorer never stacks them."""
    from harness.faults import BadConfig, Kill

    push = BadConfig(patch={"tiers.first_party": "oops"}, name="wrong_type tiers.first_party")
    trial = Trial(resilient)
    try:
        assert trial.can_inject(push)
        trial.inject(Kill("config"))
        assert not trial.can_inject(push)
        trial.heal(0)
        assert trial.can_inject(push)
        trial.inject(push)
        assert not trial.can_inject(Kill("config"))
    finally:
        trial.abandon()


def test_a_sweep_case_breaks_on_the_brittle_mesh_and_holds_on_the_resilient_one(brittle, resilient):
    """harness.explore.sweep.run_case: the contracts a single fault breaks, judged (and confirmed alone) on the real mesh."""
    from harness.faults import Down
    from harness.explore.sweep import run_case

    broken = run_case(brittle, [Down("auth->redis")])
    assert any(b.startswith("home: failed_fast") for b in broken.broken), broken.broken
    held = run_case(resilient, [Down("auth->redis")])
    assert held.broken == () and held.verdicts["home"] == "degraded", (held.broken, held.verdicts)
