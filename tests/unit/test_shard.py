"""Shards: disjoint, together the whole suite, deterministic, balanced by durations when known (pure)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import UsageError
from harness.suite.shard import Shard, load_durations, parse_shard, split, store_durations

IDS = [f"scenarios/test_{m}.py::test_{i}" for m in "abcde" for i in range(5)]


@given(ids=st.lists(st.text("abcdefgh:/._", min_size=1, max_size=12), unique=True, max_size=60),
       count=st.integers(1, 7),
       known=st.dictionaries(st.text("abcdefgh:/._", min_size=1, max_size=12), st.floats(0, 500), max_size=40))
@settings(max_examples=300, deadline=None)
def test_shards_are_disjoint_cover_everything_and_keep_collection_order(ids, count, known):
    for durations in ({}, known, {i: 1.0 for i in ids[::2]}):
        shards = split(ids, count, durations)
        assert len(shards) == count
        flat = [tid for s in shards for tid in s]
        assert sorted(flat) == sorted(ids) and len(flat) == len(set(flat))
        for s in shards:
            assert s == sorted(s, key=ids.index)
        assert split(list(ids), count, dict(durations)) == shards  # deterministic
        shuffled = list(reversed(ids))  # another collection order (pytest-randomly): the same shards
        assert [set(s) for s in split(shuffled, count, durations)] == [set(s) for s in shards]


@pytest.mark.parametrize("count", [2, 3])
def test_two_and_three_shards_partition_the_suite_exactly(count):
    shards = split(IDS, count)
    assert sorted(tid for s in shards for tid in s) == sorted(IDS)
    assert all(set(a).isdisjoint(b) for i, a in enumerate(shards) for b in shards[i + 1:])
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shards[0][0] == IDS[0] and shards[-1][-1] == IDS[-1]  # by count: contiguous runs of sorted ids


def test_durations_balance_the_time_not_the_count():
    durations = {IDS[0]: 60.0, IDS[1]: 30.0, IDS[2]: 30.0}
    ids = IDS[:6]  # the other three are unknown: each counts as the mean, 40 s
    a, b = split(ids, 2, durations)
    cost = lambda s: sum(durations.get(t, 40.0) for t in s)  # noqa: E731
    assert abs(cost(a) - cost(b)) <= 40.0
    # the longest goes first to shard 1, and one shard never gets two long ones while the other idles
    assert split([IDS[0], IDS[1], IDS[2]], 2, durations) == [[IDS[0]], [IDS[1], IDS[2]]]


def test_shard_syntax_and_bounds_are_checked_with_the_form_to_use():
    assert parse_shard("2/3") == Shard(2, 3) and str(parse_shard(" 1 / 2 ")) == "1/2"
    for bad in ("0/2", "3/2", "1/0", "2", "a/b", "", "-1/2"):
        with pytest.raises(UsageError, match=r"--cascade-shard .*(write K/N|K counts from 1 to N)"):
            parse_shard(bad)


def test_durations_files_of_pytest_split_both_formats_and_store_merges(tmp_path):
    path = tmp_path / ".test_durations"
    assert load_durations(path) == {}
    path.write_text(json.dumps([["t::a", 1.5], ["t::b", 2]]))  # pytest-split's older format
    assert load_durations(path) == {"t::a": 1.5, "t::b": 2.0}
    path.write_text(json.dumps({"t::a": 1.5, "t::b": "slow", "t::c": -1, "t::d": 3}))
    assert load_durations(path) == {"t::a": 1.5, "t::d": 3.0}  # values that are not seconds are ignored
    store_durations(path, {"t::a": 9.123456, "t::e": 0.5})
    assert json.loads(path.read_text()) == {"t::a": 9.1235, "t::d": 3.0, "t::e": 0.5}
    assert list(json.loads(path.read_text())) == sorted(["t::a", "t::d", "t::e"])
    path.write_text("{not json")
    with pytest.raises(UsageError, match=r"is not a durations file .*--cascade-store-durations"):
        load_durations(path)
