"""Strategies over a topology: every generated value is a valid fault, schedule or bad config for it."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from harness.config_faults import apply_patch
from harness.errors import UsageError
from harness.faults import fault_from_spec, parse_fault
from harness.explore.strategies import (
    BAD_CONFIG_KINDS,
    EDGE_FAULT_KINDS,
    FAULT_FAMILY_WEIGHTS,
    PROCESS_FAULT_KINDS,
    bad_configs,
    config_leaves,
    edge_faults,
    fault_key,
    faults,
    horizon_ms,
    process_faults,
    schedules,
)
from harness.topology import Topology, load_topology
from harness.explore.trial import fault_line
from services.common.config_schema import DEFAULT_DOCUMENT, InvalidConfig, validate_document

BUNDLED = load_topology(Path(__file__).parents[2] / "services" / "topology.toml")
TOY = Topology.from_dict({
    "mesh": {"config_service": "cfg"},
    "services": {"front": {}, "back": {}, "cfg": {}, "lonely": {}},
    "edges": {"front->back": {"env": "BACK_URL"}, "front->cfg": {"env": "CFG_URL"}},
    "journeys": {"page": {"service": "front", "path": "/", "edges": ["front->back"], "budget_ms": 400}},
})  # fmt: skip
DOCUMENT = {"limits": {"rate": 100, "burst": 5}, "plans": ["free", "paid"], "tiers": {"web": "free"}, "on": True}
SLOW = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(edge_faults(BUNDLED))
def test_edge_faults_are_valid_on_an_existing_edge_with_bounded_parameters(fault):
    fault.validate(BUNDLED)
    assert fault.kind in EDGE_FAULT_KINDS and fault.target in BUNDLED.edges
    assert fault.edges(BUNDLED) == (fault.target,)
    for name, value in fault.params().items():
        if name.endswith("ms"):
            assert 0 <= value <= horizon_ms(BUNDLED)
    assert fault.params().get("toxicity", 1.0) == 1.0  # reproducible: every connection is hit
    assert fault_from_spec(fault.kind, fault.target, **fault.params()) == fault


@SLOW
@given(faults(BUNDLED, config_document=DEFAULT_DOCUMENT))
def test_every_fault_validates_and_round_trips_through_its_one_line_form(fault):
    fault.validate(BUNDLED)
    assert parse_fault(fault_line(fault)) == fault
    json.dumps(fault.params())


@pytest.mark.parametrize("kind", EDGE_FAULT_KINDS + PROCESS_FAULT_KINDS + ("bad_config",))
def test_every_fault_kind_can_be_generated(kind):
    found = find(faults(BUNDLED, config_document=DEFAULT_DOCUMENT), lambda f: f.kind == kind,
                 settings=settings(max_examples=2_000, database=None))
    assert found.kind == kind


def _family(fault) -> str:
    return fault.family or fault.category


@pytest.mark.parametrize(("kwargs", "families"), [
    ({"config_document": DEFAULT_DOCUMENT}, {"network", "process", "config", "http"}),
    ({}, {"network", "process", "http"}),
    ({"process": False, "config_document": DEFAULT_DOCUMENT}, {"network", "config", "http"}),
    ({"http_edges": ()}, {"network", "process"}),
])  # fmt: skip
def test_each_fault_family_is_drawn_about_as_often_as_its_weight(kwargs, families):
    # Drawn the way a stateful example draws its rules' faults: many from one strategy in one run.
    # (A plain one_of drew a process fault once in ~130 and a bad config as rarely.)
    strategy, counts = faults(BUNDLED, **kwargs), Counter()

    @settings(max_examples=60, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.data())
    def draw(data):
        for _ in range(20):
            counts[_family(data.draw(strategy))] += 1

    draw()
    total, weights = sum(counts.values()), sum(FAULT_FAMILY_WEIGHTS[f] for f in families)
    assert set(counts) == families
    for family in families:
        expected = FAULT_FAMILY_WEIGHTS[family] / weights
        assert abs(counts[family] / total - expected) < 0.15, (family, counts)


@pytest.mark.parametrize("edge", sorted(BUNDLED.edges))
def test_every_edge_can_be_faulted(edge):
    assert find(edge_faults(BUNDLED), lambda f: f.target == edge, settings=settings(max_examples=2_000, database=None))


@given(process_faults(TOY))
def test_process_faults_name_services_and_partition_only_services_with_edges(fault):
    fault.validate(TOY)
    assert fault.target in TOY.services
    assert not (fault.kind == "partition" and fault.target == "lonely")


def test_a_bad_config_push_shares_the_config_services_key_and_no_other():
    from harness.faults import BadConfig, Kill, Partition, Pause

    push = BadConfig(patch={"tiers.first_party": "oops"}, name="wrong_type tiers.first_party")
    other = BadConfig(raw="{", name="malformed")
    config = BUNDLED.config_service
    for process_fault in (Kill(config), Pause(config)):
        assert fault_key(push, config) == fault_key(process_fault, config)
    assert fault_key(push, config) == fault_key(other, config)  # two pushes never overlap either
    assert fault_key(push, config) != fault_key(Kill("auth"), config)
    assert fault_key(push, config) != fault_key(Partition(config), config)  # pushes do not cross a proxy
    assert fault_key(push) != fault_key(Kill(config))  # without the topology's config service: no link


@SLOW
@given(schedules(BUNDLED, max_faults=3))
def test_schedules_fit_the_horizon_and_never_stack_two_faults_of_one_key(plan):
    horizon_s = horizon_ms(BUNDLED) / 1000
    assert 1 <= len(plan) <= 3
    assert len({fault_key(s.fault, BUNDLED.config_service) for s in plan}) == len(plan)
    for s in plan:
        s.fault.validate(BUNDLED)
        assert 0 <= s.at and 0 < s.for_ and s.at + s.for_ <= horizon_s + 1e-9
        assert round(s.at / 0.05, 6).is_integer() and round(s.for_ / 0.05, 6).is_integer()


@given(schedules(TOY, horizon_s=0.2, process=False))
def test_a_schedule_horizon_can_be_given(plan):
    assert all(s.at + s.for_ <= 0.2 + 1e-9 and s.fault.category in ("network", "http") for s in plan)


def test_config_leaves_walk_objects_and_arrays_containers_first():
    assert list(config_leaves({"a": {"b": [1, {"c": 2}]}, "x.y": 3})) == [
        ("a", {"b": [1, {"c": 2}]}), ("a.b", [1, {"c": 2}]), ("a.b.0", 1), ("a.b.1", {"c": 2}), ("a.b.1.c", 2)]


@SLOW
@given(bad_configs(DOCUMENT))
def test_bad_configs_apply_to_the_document_they_came_from(bad):
    if bad.raw is not None:
        with pytest.raises(ValueError):
            json.loads(bad.raw)
        return
    changed = apply_patch(DOCUMENT, bad.patch)
    assert changed != DOCUMENT


@pytest.mark.parametrize("kind", BAD_CONFIG_KINDS)
def test_each_bad_config_kind_does_what_its_name_says(kind):
    bad = find(bad_configs(DOCUMENT, kinds=(kind,)), lambda b: True, settings=settings(database=None))
    ((path, value),) = bad.patch.items() if bad.patch else ((None, None),)
    if kind == "malformed":
        assert bad.raw and bad.raw in json.dumps(DOCUMENT)
    elif kind == "missing_section":
        assert isinstance(dict(config_leaves(DOCUMENT))[path], (dict, list)) and repr(value) == "DELETE"
    elif kind == "wrong_type":
        assert type(value) is not type(dict(config_leaves(DOCUMENT))[path])
    elif kind == "boundary":
        assert value in (0, -1, 10**12, "")
    else:
        assert isinstance(dict(config_leaves(DOCUMENT))[path], str) and value not in json.dumps(DOCUMENT)


@settings(max_examples=300, deadline=None)
@given(bad_configs(DEFAULT_DOCUMENT, kinds=("malformed", "wrong_type", "missing_section", "dangling")))
def test_bad_configs_derived_from_the_bundled_document_are_rejected_by_its_schema(bad):
    """Derived from the served document alone, yet every one is a config a validating consumer must refuse."""
    document = json.loads(bad.raw) if bad.raw is not None and _json(bad.raw) else None
    if bad.patch is not None:
        document = apply_patch(DEFAULT_DOCUMENT, bad.patch)
    with pytest.raises(InvalidConfig):
        validate_document(document)


def _json(text):
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("call, message", [
    (lambda: edge_faults(TOY, kinds=("latency", "nope")), "unknown kind 'nope'"),
    (lambda: process_faults(TOY, kinds=()), "unknown kind '(none given)'"),
    (lambda: bad_configs({}), "non-empty JSON object"),
    (lambda: bad_configs(DOCUMENT, kinds=("typo",)), "kinds are: malformed"),
    (lambda: schedules(TOY, max_faults=0), "max_faults must be >= 1, got 0"),
    (lambda: edge_faults(Topology.from_dict({"services": {"a": {}}})), "declares no edges"),
])  # fmt: skip
def test_bad_arguments_name_the_value(call, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        call()

