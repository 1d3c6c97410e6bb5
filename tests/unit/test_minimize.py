"""Classifying a failure by rerunning it, and cutting its schedule down to a 1-minimal one (the pure decisions)."""

from __future__ import annotations

from typing import Callable, Sequence

from harness.errors import MeshError
from harness.faults import Down, Latency, Restart
from harness.explore.journal import Journal
from harness.explore.minimize import FLAKY, REPRODUCIBLE, UNCONFIRMED, Outcome, confirm_and_minimize, describe, units, without
from harness.explore.trial import Check, Step

LAT = Latency("catalog->pricing", ms=300)
DOWN = Down("front->catalog")
RESTART = Restart("redis")
SCHEDULE = (Step("inject", LAT), Step("inject", RESTART), Step("inject", DOWN), Step("heal", LAT),
            Step("heal", RESTART), Step("heal", DOWN))


def _journal(steps: Sequence[Step] = SCHEDULE) -> Journal:
    return Journal(topology_name="shop", topology_digest="d", topology_path="shop.toml", mode="resilient",
                   runtime="local", seed=1, found_after_s=8.4, message="product: not recovered", steps=tuple(steps),
                   checks=(Check(len(steps) - 1, "recovery", (), {"product": "failed_fast"}, ("product: not recovered",)),))


def _runner(fails: Callable[[Sequence[Step]], bool], log: list) -> Callable[[Sequence[Step]], Outcome]:
    def run(steps: Sequence[Step]) -> Outcome:
        log.append(tuple(steps))
        broken = ("product: not recovered",) if fails(steps) else ()
        return Outcome(tuple(steps), (Check(len(steps) - 1, "recovery", (), {"product": "x"}, broken),), broken, 0.5)
    return run


def test_minimizing_ends_and_each_removal_is_tried_on_the_schedule_as_it_stands():
    log: list = []
    j = confirm_and_minimize(_journal(), _runner(_restarts_redis, log))
    assert len(log) == len(set(log)), "a schedule was rerun twice: the minimizer is not making progress"
    assert len(log) <= 1 + len(units(SCHEDULE)) * 2


def _restarts_redis(steps: Sequence[Step]) -> bool:
    return any(s.action == "inject" and s.fault == RESTART for s in steps)


def test_units_pair_each_inject_with_its_heal_then_offer_each_heal_alone():
    assert units(SCHEDULE) == [(0, 3), (1, 4), (2, 5), (3,), (4,), (5,)]
    assert units((Step("inject", LAT),)) == [(0,)]  # a fault never healed in the schedule: close() heals it
    assert without(SCHEDULE, (0, 3)) == (SCHEDULE[1], SCHEDULE[2], SCHEDULE[4], SCHEDULE[5])


def test_a_deterministic_failure_is_reproducible_and_cut_to_the_one_fault_that_causes_it():
    log: list = []
    j = confirm_and_minimize(_journal(), _runner(_restarts_redis, log))
    assert j.classification == REPRODUCIBLE
    assert j.steps == (Step("inject", RESTART),)  # its heal went too: the trial's close heals what is left
    assert log[0] == SCHEDULE  # the first rerun is the schedule as found
    tried = [(r.removed, r.still_failed) for r in j.removals]
    line = "latency 'catalog->pricing' ms=300 jitter_ms=0 direction=downstream toxicity=1.0"
    assert tried[0] == ((f"inject {line}", f"heal {line}"), True)
    assert (("inject restart redis", "heal restart redis"), False) in tried
    # 1-minimal: the only unit left is the fault itself, and no schedule without any fault is ever tried
    assert units(j.steps) == [(0,)]
    assert all(any(s.action == "inject" for s in steps) for steps in log)
    assert j.checks[-1].broken == ("product: not recovered",)


def test_a_failure_that_passes_when_rerun_is_flaky_with_both_runs_and_nothing_removed():
    log: list = []
    j = confirm_and_minimize(_journal(), _runner(lambda steps: False, log))
    assert j.classification == FLAKY and j.steps == SCHEDULE and j.removals == ()
    assert len(log) == 1
    assert j.checks[-1].broken and not j.rerun[-1].broken  # the run that failed, and the rerun that passed
    text = "\n".join(describe(j))
    assert text.startswith("flaky: failed once, passed when rerun with the same faults")
    assert "the run that failed:" in text and "the rerun with the same faults, which passed:" in text


def test_a_rerun_that_cannot_be_made_is_unconfirmed_never_flaky():
    def run(steps):
        raise MeshError("the mesh did not return to its steady state")

    j = confirm_and_minimize(_journal(), run)
    assert j.classification == UNCONFIRMED and "could not be made" in j.note


def test_a_failure_needing_two_faults_keeps_both():
    both = lambda steps: {s.fault for s in steps if s.action == "inject"} >= {LAT, DOWN}  # noqa: E731
    j = confirm_and_minimize(_journal(), _runner(both, []))
    assert [s.fault for s in j.steps if s.action == "inject"] == [LAT, DOWN]
    assert describe(j)[0].startswith("reproducible: failed again when rerun with the same faults; 1-minimal at 2 faults")


def test_a_journal_keeps_its_classification_and_removals_through_its_file(tmp_path):
    j = confirm_and_minimize(_journal(), _runner(_restarts_redis, []))
    assert Journal.load(j.write(tmp_path)) == j
