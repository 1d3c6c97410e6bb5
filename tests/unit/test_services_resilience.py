"""Unit tests of the services' resilience parts: breaker, retry budget, deadlines, fallback policy (pure)."""

from __future__ import annotations

import json

import pytest

from services.common.breaker import Breaker, NullBreaker
from services.common.calls import is_retryable
from services.common.context import HOP_MARGIN_S, attempt_timeout_s, incoming_deadline, parse_degraded
from services.common.errors import DependencyFailure
from services.common.fallbacks import decide, internal_error, passthrough, unavailable
from services.common.knobs import Knobs, parse_knobs
from services.common.retry_budget import RetryBudget


class Clock:
    def __init__(self, t: float = 100.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


# -- breaker ---------------------------------------------------------------------------


def test_breaker_opens_after_threshold_consecutive_failures():
    clock = Clock()
    b = Breaker(failure_threshold=3, reset_timeout_s=1.0, clock=clock)
    for _ in range(2):
        assert b.allow()
        b.record_failure()
    assert b.state == "closed"
    b.record_failure()
    assert b.state == "open" and not b.allow()
    assert b.retry_after_s() == pytest.approx(1.0)


def test_a_success_resets_the_consecutive_count():
    b = Breaker(failure_threshold=2, clock=Clock())
    b.record_failure()
    b.record_success()
    b.record_failure()
    assert b.state == "closed"


def test_after_the_reset_timeout_one_probe_goes_through():
    clock = Clock()
    b = Breaker(failure_threshold=1, reset_timeout_s=1.0, clock=clock)
    b.record_failure()
    clock.t += 0.999
    assert not b.allow()
    clock.t += 0.001
    assert b.state == "half_open"
    assert b.allow()          # the probe
    assert not b.allow()      # nobody else while it is out
    b.record_success()
    assert b.state == "closed" and b.allow()


def test_a_failed_probe_opens_the_breaker_for_a_full_timeout_again():
    clock = Clock()
    b = Breaker(failure_threshold=1, reset_timeout_s=1.0, clock=clock)
    b.record_failure()
    clock.t += 1.0
    assert b.allow()
    b.record_failure()
    assert b.state == "open" and b.retry_after_s() == pytest.approx(1.0)


def test_a_lost_probe_frees_its_slot():
    clock = Clock()
    b = Breaker(failure_threshold=1, reset_timeout_s=1.0, clock=clock)
    b.record_failure()
    clock.t += 1.0
    assert b.allow()
    b.release()              # cancelled: no outcome
    assert b.allow()
    b.release()
    clock.t += 0.5
    assert b.allow()
    clock.t += 1.0           # a probe that never reports is forgotten after a reset timeout
    assert b.allow()


def test_null_breaker_never_opens():
    b = NullBreaker(failure_threshold=1, clock=Clock())
    for _ in range(10):
        b.record_failure()
    assert b.allow() and b.state == "closed"


# -- retry budget ----------------------------------------------------------------------


def test_retry_budget_allows_the_reserve_then_the_ratio():
    clock = Clock()
    budget = RetryBudget(0.2, reserve=2, window_s=10, clock=clock)
    for _ in range(10):
        budget.record_call()
    # 0.2 * 10 calls + 2 reserve = 4 retries
    assert [budget.try_spend() for _ in range(5)] == [True, True, True, True, False]


def test_retry_budget_forgets_calls_outside_its_window():
    clock = Clock()
    budget = RetryBudget(1.0, reserve=0, window_s=10, clock=clock)
    for _ in range(3):
        budget.record_call()
    clock.t += 10
    assert not budget.try_spend()
    budget.record_call()
    assert budget.try_spend() and not budget.try_spend()


def test_a_zero_ratio_leaves_only_the_reserve():
    budget = RetryBudget(0.0, reserve=1, clock=Clock())
    for _ in range(100):
        budget.record_call()
    assert budget.try_spend() and not budget.try_spend()


# -- what is retried ---------------------------------------------------------------------


@pytest.mark.parametrize("kind, status, resilient, naive", [
    ("timeout", None, True, True),
    ("unreachable", None, True, True),
    ("error_status", 502, True, True),
    ("error_status", 504, True, True),
    ("error_status", 503, False, True),   # an explicit "unavailable": retrying only adds load
    ("error_status", 500, False, True),
    ("redis_error", None, False, True),
    ("breaker_open", None, False, False),
    ("no_time_left", None, False, False),
])
def test_which_failures_are_retried(kind, status, resilient, naive):
    failure = DependencyFailure("auth", kind, "x", status=status)
    assert is_retryable(failure, naive=False) is resilient
    assert is_retryable(failure, naive=True) is naive


def test_a_bug_is_never_retried():
    assert not is_retryable(KeyError("x"), naive=True)


# -- deadlines -----------------------------------------------------------------------------


def test_a_request_without_a_deadline_gets_its_own_budget():
    assert incoming_deadline(None, 1000, now=10.0) == pytest.approx(11.0)


def test_a_callers_deadline_shortens_the_budget_by_the_hop_margin():
    assert incoming_deadline("400", 1000, now=10.0) == pytest.approx(10.4 - HOP_MARGIN_S)
    assert incoming_deadline("5000", 1000, now=10.0) == pytest.approx(11.0)
    assert incoming_deadline("nonsense", 1000, now=10.0) == pytest.approx(11.0)


def test_an_attempt_gets_the_configured_timeout_cut_to_the_deadline():
    assert attempt_timeout_s(300, None, now=0.0) == pytest.approx(0.3)
    assert attempt_timeout_s(300, 1.0, now=0.0) == pytest.approx(0.3)
    assert attempt_timeout_s(300, 0.2, now=0.0) == pytest.approx(0.2 - HOP_MARGIN_S)


def test_degraded_header_values_are_split_and_trimmed():
    assert parse_degraded(" stale_timeline, media_placeholder ,") == ["stale_timeline", "media_placeholder"]
    assert parse_degraded(None) == []


# -- fallback policy ---------------------------------------------------------------------


@pytest.mark.parametrize("brittle, has_fallback, action", [
    ("", True, "fallback"),
    ("", False, "unavailable"),
    ("fallbacks", True, "unavailable"),
    ("error_passthrough", False, "passthrough"),
    ("error_passthrough", True, "fallback"),
    ("fallbacks,error_passthrough", True, "passthrough"),
])
def test_fallback_policy(brittle, has_fallback, action):
    knobs = parse_knobs("brittle", brittle) if brittle else Knobs()
    assert decide(knobs, has_fallback=has_fallback) == action


def test_unavailable_is_a_clear_503_with_retry_after():
    answer = unavailable("the timeline is temporarily unavailable", 0.2)
    assert answer.status == 503 and ("retry-after", "1") in answer.headers
    assert json.loads(answer.body) == {"error": "the timeline is temporarily unavailable", "retry_after_s": 1}


def test_passthrough_forwards_the_dependencys_answer_verbatim():
    body = b'{"errors":[{"code":467}]}'
    failure = DependencyFailure("gateway", "error_status", "answered 403", status=403, body=body,
                                content_type="application/json")
    assert (passthrough(failure).status, passthrough(failure).body) == (403, body)
    assert passthrough(failure, status=200).status == 200


def test_passthrough_of_a_transport_failure_is_a_raw_error_page():
    answer = passthrough(DependencyFailure("media", "timeout", "no answer within 300 ms"))
    assert answer.status == 502 and answer.body.startswith(b"Internal Server Error")


def test_an_unexpected_error_shows_a_traceback_only_when_brittle():
    assert b"Traceback" in internal_error(trace="Traceback (most recent call last): ...", brittle=True).body
    clean = internal_error(trace="Traceback (most recent call last): ...", brittle=False)
    assert clean.status == 500 and b"Traceback" not in clean.body and json.loads(clean.body)["error"]
