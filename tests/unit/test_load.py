"""Load: open-loop schedule, and `until_acked` going past the duration only while short of acknowledged writes."""

from __future__ import annotations

import itertools
import threading
from types import SimpleNamespace

import pytest

from harness.observe import load as load_mod
from harness.errors import UsageError
from harness.observe.load import Load
from harness.judge.verdicts import Observation

RATE = 200.0  # 5 ms apart: the tests below take well under a second each


class _Mesh:
    """A mesh that only knows its journeys' names (the load's one question of it at start)."""

    topology = SimpleNamespace(journey=lambda name: name)


@pytest.fixture
def answers(monkeypatch):
    """Journeys answer at once; the n-th acknowledges a write when `acks(n)` says so."""
    counter = itertools.count()
    lock = threading.Lock()
    state = SimpleNamespace(acks=lambda n: True)

    def run(mesh, name, *, clock):
        with lock:
            n = next(counter)
        obs = Observation(name, 201, 1.0, "", {}, verdict="full")
        return obs, str(n).encode()

    monkeypatch.setattr(load_mod, "run_journey_with_body", run)
    monkeypatch.setattr(load_mod, "acked_id", lambda name, mesh, status, body: body.decode() if state.acks(int(body)) else None)
    return state


def test_without_until_acked_the_load_sends_exactly_rate_times_duration(answers):
    answers.acks = lambda n: False
    with Load(_Mesh(), ["post"], rate_per_s=RATE, duration_s=0.05) as lo:
        pass
    assert len(lo.samples) == 10


def test_until_acked_goes_past_the_duration_until_enough_writes_are_acknowledged(answers):
    answers.acks = lambda n: n >= 10  # the whole scheduled window acknowledges nothing
    with Load(_Mesh(), ["post"], rate_per_s=RATE, duration_s=0.05, until_acked=5) as lo:
        pass
    assert len(lo.acked("post")) >= 5
    # it stops once five are acknowledged: at most the requests in flight when the fifth landed
    assert 15 <= len(lo.samples) <= 15 + 5


def test_until_acked_is_bounded_in_time_when_nothing_is_ever_acknowledged(answers):
    answers.acks = lambda n: False
    with Load(_Mesh(), ["post"], rate_per_s=RATE, duration_s=0.05, until_acked=5, until_acked_within_s=0.2) as lo:
        pass
    assert lo.acked("post") == []
    # 10 scheduled + at most 0.2 s more at 200/s (+1 for the request at the boundary)
    assert 10 < len(lo.samples) <= 10 + 41


def test_until_acked_already_met_adds_nothing(answers):
    with Load(_Mesh(), ["post"], rate_per_s=RATE, duration_s=0.05, until_acked=3) as lo:
        pass
    assert len(lo.samples) == 10


@pytest.mark.parametrize("kwargs, word", [
    ({"until_acked": 0}, "until_acked"),
    ({"until_acked": 5, "until_acked_within_s": 0}, "until_acked_within_s"),
    ({"until_acked": 5, "until_acked_within_s": 1_000}, "until_acked_within_s"),
])
def test_bad_until_acked_is_refused_naming_the_value(kwargs, word):
    with pytest.raises(UsageError, match=word):
        Load(_Mesh(), ["post"], rate_per_s=10, duration_s=1, **kwargs)
