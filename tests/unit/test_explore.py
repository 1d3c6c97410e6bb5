"""The pure parts of exploration: budgets, journals and their scenarios, the sweep's pair rules and coverage."""

from __future__ import annotations

import ast
import re

import pytest

from harness.errors import InvalidFault, UsageError
from harness.explore.explorer import parse_budget
from harness.faults import Bandwidth, BadConfig, Down, Kill, Latency, Slicer, SlowClose, parse_fault
from harness.explore.journal import Journal, scenario_text
from harness.explore.strategies import EDGE_FAULT_KINDS
from harness.explore.sweep import Case, pairs_to_run, representatives, unfaulted_edges
from harness.topology import Topology
from harness.faults import BANDWIDTH_PIECE_S, DRAIN_MARGIN_S, drain_s
from harness.explore.trial import Check, Step, fault_line

TOPO = Topology.from_dict({
    "services": {"front": {}, "back": {}, "db": {}, "side": {}},
    "edges": {"front->back": {"env": "BACK_URL"}, "back->db": {"env": "DB_URL"}, "front->side": {"env": "SIDE_URL"}},
    "journeys": {
        "page": {"service": "front", "path": "/", "edges": ["front->back", "back->db"], "budget_ms": 800},
        "widget": {"service": "front", "path": "/w", "edges": ["front->side"], "budget_ms": 500},
    },
})  # fmt: skip


@pytest.mark.parametrize("text, seconds", [("30s", 30), ("5m", 300), ("1h", 3600), ("90", 90), (" 1.5m ", 90)])
def test_budgets_read_seconds_minutes_and_hours(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["5x", "", "0s", "-1m", "m5", "5 minutes"])
def test_a_bad_budget_names_the_value_and_the_forms(text):
    with pytest.raises(UsageError, match=f"^--budget {text}: use 30s, 5m$"):
        parse_budget(text)


def _journal() -> Journal:
    steps = (Step("inject", Latency("front->back", ms=700)), Step("inject", BadConfig.missing_section("limits")),
             Step("heal", Latency("front->back", ms=700)))
    checks = (Check(0, "contracts", ("Latency(front->back, ms=700)",), {"page": "degraded", "widget": "full"}),
              Check(1, "contracts", ("x",), {"page": "hung", "widget": "full"}, ("page: hung, wanted full",)))
    return Journal(topology_name="toy", topology_digest=TOPO.digest(), topology_path="toy.toml",
                   mode="brittle:timeouts", runtime="local", seed=7, found_after_s=1.25,
                   message="page: hung \"quoted\"", steps=steps, checks=checks)


def test_a_journal_round_trips_through_its_file(tmp_path):
    j = _journal()
    first, second = j.write(tmp_path), j.write(tmp_path)
    assert first != second and first.name == "toy-brittle_timeouts-7-1.json"  # never over an earlier journal
    assert Journal.load(first) == j


def test_a_file_that_is_no_journal_is_refused_by_name(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('{"journal": 1, "mode": "resilient"}')
    with pytest.raises(UsageError, match=f"{bad} is not a Cascade journal"):
        Journal.load(bad)
    with pytest.raises(UsageError, match="cannot read journal"):
        Journal.load(tmp_path / "missing.json")


def test_the_emitted_scenario_is_a_test_module_replaying_the_same_steps():
    text = scenario_text(_journal())
    tree = ast.parse(text)
    tests = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert tests == ["test_explored_toy_brittle_timeouts_7_keeps_every_contract_and_recovers"]
    namespace: dict = {}
    exec(compile(text.split("\n\n\ndef test_")[0], "scenario", "exec"), namespace)  # the imports and STEPS only
    assert [(a, parse_fault(line)) for a, line in namespace["STEPS"]] == [(s.action, s.fault) for s in _journal().steps]


@pytest.mark.parametrize("fault", [Down("front->back"), Kill("db"), Latency("a->b", ms=5, direction="both"),
                                   BadConfig(patch={"a.b": "true", "c": 1}, name="x y")])
def test_a_fault_line_parses_back_to_the_same_fault(fault):
    assert parse_fault(fault_line(fault)) == fault


def test_representatives_are_one_valid_fault_per_kind_on_the_edge():
    faults = representatives(TOPO, "back->db")
    assert tuple(f.kind for f in faults) == (*EDGE_FAULT_KINDS, "http_error")  # an HTTP edge: HTTP faults too
    for f in faults:
        f.validate(TOPO)
        assert f.target == "back->db"


def test_a_tcp_edge_gets_no_http_representative_and_asking_for_one_is_refused():
    topo = Topology.from_dict({
        "services": {"app": {"command": ["x"]}, "cache": {"command": ["y"]}},
        "edges": {"app->cache": {"env": "CACHE_URL", "url": "redis://{host}:{port}/0"}},
    })
    assert tuple(f.kind for f in representatives(topo, "app->cache")) == EDGE_FAULT_KINDS
    with pytest.raises(InvalidFault, match="not an HTTP edge"):
        for f in representatives(topo, "app->cache", ["http_error"]):
            f.validate(topo)


def _case(fault, verdicts, broken=()):
    return Case((fault,), verdicts, tuple(broken), 0.1)


def test_pairs_skip_disjoint_radii_broken_singles_and_equivalent_faults():
    calm = {"page": "degraded", "widget": "full"}
    singles = [
        _case(Down("front->back"), calm),
        _case(Latency("front->back", ms=800), calm),  # rule 3: same edge, same verdicts as the Down
        _case(Latency("back->db", ms=800), {"page": "degraded", "widget": "full"}),
        _case(Down("back->db"), {"page": "hung", "widget": "full"}, ["page: hung"]),  # rule 2: broke alone
        _case(Down("front->side"), {"page": "full", "widget": "failed_fast"}),  # rule 1: no journey in common
    ]
    run, skipped = pairs_to_run(TOPO, singles)
    assert run == [(Down("front->back"), Latency("back->db", ms=800))]
    assert skipped == 10 - 1


def test_unfaulted_edges_count_scenario_edges_and_partitions(tmp_path):
    (tmp_path / "test_a.py").write_text('chaos.inject(Down("front -> back"))\nPartition("side")\n')
    (tmp_path / "helper.py").write_text('Down("back->db")')  # not a scenario module
    assert unfaulted_edges(TOPO, [], tmp_path) == ("back->db",)
    assert unfaulted_edges(TOPO, ["back->db"], tmp_path) == ()
    assert unfaulted_edges(TOPO, []) == ("back->db", "front->back", "front->side")


def test_reverting_waits_for_data_a_delaying_fault_still_holds():
    assert drain_s(Latency("a->b", ms=500, jitter_ms=100)) == pytest.approx(0.6 + DRAIN_MARGIN_S)
    assert drain_s(SlowClose("a->b", ms=300)) == pytest.approx(0.3 + DRAIN_MARGIN_S)
    assert drain_s(Slicer("a->b", avg_bytes=16, delay_us=1_000)) == pytest.approx(0.256 + DRAIN_MARGIN_S)
    assert drain_s(Bandwidth("a->b", kbps=8)) == drain_s(Bandwidth("a->b", kbps=800)) == pytest.approx(
        2 * BANDWIDTH_PIECE_S + DRAIN_MARGIN_S)
    assert drain_s(Down("a->b")) == drain_s(Kill("db")) == drain_s(Slicer("a->b", avg_bytes=1)) == 0.0


@pytest.mark.parametrize(("workers", "runtime", "message"), [
    (0, "local", "--workers 0: use 1 to 8"),
    (9, "local", "--workers 9: use 1 to 8"),
    (True, "local", "--workers True: use 1 to 8"),
])  # fmt: skip
def test_a_bad_worker_count_names_the_value(workers, runtime, message):
    from harness.explore.pool import check_workers

    with pytest.raises(UsageError, match=re.escape(message)):
        check_workers(workers, runtime)
    check_workers(1, runtime)
    check_workers(8)
    check_workers(2, "compose")  # a compose project per mesh: several at once are allowed


def test_worker_seeds_start_at_the_run_seed_and_never_meet():
    from harness.explore.pool import SEED_STRIDE, worker_seed

    assert worker_seed(7, 0) == 7 and worker_seed(7, 1) == 7 + SEED_STRIDE
    assert worker_seed(2**32 - 1, 1) == SEED_STRIDE - 1  # wraps into Hypothesis's seed range


def test_a_journal_is_built_from_keywords_only():
    with pytest.raises(TypeError):
        Journal("toy", TOPO.digest(), "toy.toml", "brittle:timeouts", "local", 7, 1.25, "m", (), ())  # type: ignore[misc]
