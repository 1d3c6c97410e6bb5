"""Property tests for fault values: any input is either a valid fault with a sane payload, or InvalidFault."""

from __future__ import annotations

import copy
import json
import shlex

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.errors import InvalidFault
from harness.faults import (
    DELETE,
    DIRECTIONS,
    FAULT_KINDS,
    TOXIC_PREFIX,
    Bandwidth,
    Latency,
    LimitData,
    ResetPeer,
    Slicer,
    SlowClose,
    Timeout,
    apply_patch,
    fault_from_spec,
    parse_fault,
)

TOXIC_FAULTS = {
    Latency: ("ms", "jitter_ms"),
    Bandwidth: ("kbps",),
    SlowClose: ("ms",),
    Timeout: ("ms",),
    ResetPeer: ("ms",),
    Slicer: ("avg_bytes", "variation", "delay_us"),
    LimitData: ("bytes_",),
}
I64 = 2**63 - 1

anything = st.one_of(
    st.integers(min_value=-(10**20), max_value=10**20),
    st.integers(min_value=-5, max_value=5000),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(min_value=0, max_value=1),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.lists(st.integers(), max_size=2),
)
edges = st.one_of(st.sampled_from(["timeline->media", " a -> b ", "gateway->auth"]), st.text(max_size=8), st.integers())
directions = st.one_of(st.sampled_from(DIRECTIONS), st.text(max_size=6), st.none())


@st.composite
def toxic_fault_args(draw):
    cls = draw(st.sampled_from(sorted(TOXIC_FAULTS, key=lambda c: c.__name__)))
    kwargs = {name: draw(anything) for name in TOXIC_FAULTS[cls]}
    if draw(st.booleans()):
        kwargs["direction"] = draw(directions)
    if draw(st.booleans()):
        kwargs["toxicity"] = draw(anything)
    return cls, draw(edges), kwargs


@settings(max_examples=500, deadline=None)
@given(toxic_fault_args())
def test_toxic_faults_are_valid_with_sane_payloads_or_raise_invalid_fault(args):
    cls, edge, kwargs = args
    try:
        fault = cls(edge, **kwargs)
    except InvalidFault:
        return
    toxics = fault.toxics()
    assert len(toxics) == (2 if fault.direction == "both" else 1)
    assert len({t.name for t in toxics}) == len(toxics)
    for toxic in toxics:
        assert toxic.name == f"{TOXIC_PREFIX}{fault.kind}_{toxic.stream}"
        assert toxic.type == fault.kind and toxic.stream in ("downstream", "upstream")
        assert isinstance(toxic.toxicity, float) and 0 <= toxic.toxicity <= 1
        for value in toxic.attributes.values():
            # Toxiproxy decodes every attribute into a Go int64
            assert isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= I64
        json.dumps(toxic.payload(), allow_nan=False)
    assert fault_from_spec(fault.kind, fault.target, **fault.params()) == fault


valid_toxic_fault = st.one_of(
    st.builds(Latency, st.just("timeline->media"), st.integers(0, 10**6), st.integers(0, 10**4),
              direction=st.sampled_from(DIRECTIONS), toxicity=st.floats(0, 1)),
    st.builds(Bandwidth, st.just("a->b"), st.one_of(st.integers(8, 10**9), st.floats(8, 1e9))),
    st.builds(SlowClose, st.just("a->b"), st.integers(0, 10**6), direction=st.sampled_from(DIRECTIONS)),
    st.builds(Timeout, st.just("a->b"), st.integers(0, 10**6)),
    st.builds(ResetPeer, st.just("a->b"), st.integers(0, 10**6), toxicity=st.sampled_from([0, 0.5, 1])),
    st.builds(LimitData, st.just("a->b"), st.integers(0, 10**12)),
    st.integers(1, 10**6).flatmap(
        lambda avg: st.builds(Slicer, st.just("a->b"), st.just(avg), st.integers(0, avg - 1), st.integers(0, 10**6))
    ),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(valid_toxic_fault)
def test_parse_fault_round_trips_every_valid_toxic_fault(fault):
    words = [fault.kind, fault.target] + [f"{k}={shlex.quote(json.dumps(v))}" for k, v in fault.params().items()]
    assert parse_fault(" ".join(words)) == fault


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from([*FAULT_KINDS, "nope"]),
    st.text(max_size=12),
    st.dictionaries(st.sampled_from(["ms", "kbps", "path", "value", "document", "patch", "raw", "name", "x"]), anything, max_size=3),
)
def test_fault_from_spec_only_ever_raises_invalid_fault(kind, target, params):
    try:
        fault = fault_from_spec(kind, target, **params)
    except InvalidFault:
        return
    json.dumps(fault.params())
    assert fault.describe()


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("latency kil->= bad_config 0123'\".")), max_size=40))
def test_parse_fault_only_ever_raises_invalid_fault(text):
    try:
        parse_fault(text)
    except InvalidFault:
        pass


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=4)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from("abc"), inner, max_size=3)),
    max_leaves=10,
)
documents = st.dictionaries(st.sampled_from("abc"), json_values, max_size=3)
paths = st.lists(st.sampled_from(["a", "b", "c", "0", "1"]), min_size=1, max_size=3).map(".".join)


@settings(max_examples=500, deadline=None)
@given(documents, st.dictionaries(paths, st.one_of(json_values, st.just(DELETE)), min_size=1, max_size=3))
def test_apply_patch_never_mutates_and_only_raises_invalid_fault(document, patch):
    before, patch_before = copy.deepcopy(document), dict(patch)
    try:
        out = apply_patch(document, patch)
    except InvalidFault:
        out = None
    assert document == before and patch == patch_before
    if out is not None:
        json.dumps(out)


@settings(max_examples=300, deadline=None)
@given(documents, st.lists(st.sampled_from("abc"), min_size=1, max_size=3).map(".".join), json_values)
def test_apply_patch_sets_the_value_at_its_path(document, path, value):
    try:
        out = apply_patch(document, {path: value})
    except InvalidFault:
        return  # a scalar on the way
    node = out
    for key in path.split("."):
        node = node[key]
    assert node == value
