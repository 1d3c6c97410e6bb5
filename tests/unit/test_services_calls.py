"""Unit tests of the dependency caller: retries, naive retries, breaker, deadline, counters (an in-memory transport)."""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Callable

import httpx
import pytest

from services.common.calls import NAIVE_ATTEMPTS, Caller
from services.common.config_default import default_document
from services.common.config_state import ConfigView
from services.common.context import RequestContext, reset_current, set_current
from services.common.counters import Counters
from services.common.errors import DependencyFailure
from services.common.knobs import Knobs, parse_knobs
from services.common.retry_budget import RetryBudget


def view(**retry: Any) -> ConfigView:
    doc = default_document()
    doc["retry"].update({"base_backoff_ms": 0, **retry})  # no backoff: unit tests do not sleep
    doc["breaker"]["failure_threshold"] = 100
    return ConfigView(doc)


def make(statuses: list[int], *, knobs: Knobs = Knobs(), config: ConfigView | None = None,
         headers: dict[str, str] | None = None) -> tuple[Caller, Counters, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    cfg = config or view()

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = statuses[min(len(seen), len(statuses)) - 1]
        return httpx.Response(status, json={"n": len(seen)}, headers=headers or {})

    counters = Counters()
    caller = Caller("auth", "http://127.0.0.1:1", knobs=knobs, config=lambda: cfg, counters=counters)
    caller.http_client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return caller, counters, seen


def run(coro_fn: Callable[[], Any], ctx: RequestContext | None = None) -> Any:
    async def main() -> Any:
        token = set_current(ctx)
        try:
            return await coro_fn()
        finally:
            reset_current(token)
    return asyncio.run(main())


def test_a_502_is_retried_once_and_counted():
    caller, counters, seen = make([502, 200])
    answer = run(lambda: caller.http("GET", "/session/x"))
    assert answer.status == 200 and len(seen) == 2
    assert (counters.calls["auth"], counters.retries["auth"]) == (2, 1)


def test_resilient_attempts_come_from_config():
    caller, counters, seen = make([502], config=view(attempts=3))
    with pytest.raises(DependencyFailure) as err:
        run(lambda: caller.http("GET", "/x"))
    assert err.value.kind == "error_status" and err.value.status == 502 and len(seen) == 3


def test_a_503_is_not_retried_and_carries_the_body_for_passthrough():
    caller, counters, seen = make([503])
    with pytest.raises(DependencyFailure) as err:
        run(lambda: caller.http("GET", "/x"))
    assert len(seen) == 1 and err.value.status == 503 and err.value.body == b'{"n":1}'


def test_a_4xx_is_an_answer_not_a_failure():
    caller, counters, seen = make([404])
    assert run(lambda: caller.http("GET", "/x")).status == 404
    assert caller.breaker.state == "closed" and len(seen) == 1


def test_naive_retries_hammer_immediately():
    caller, counters, seen = make([500], knobs=parse_knobs("brittle", "retries"))
    with pytest.raises(DependencyFailure):
        run(lambda: caller.http("GET", "/x"))
    assert len(seen) == NAIVE_ATTEMPTS
    assert (counters.calls["auth"], counters.retries["auth"]) == (NAIVE_ATTEMPTS, NAIVE_ATTEMPTS - 1)


def test_an_exhausted_retry_budget_stops_retries():
    caller, counters, seen = make([502, 200])
    caller.budget = RetryBudget(0.0, reserve=0)
    with pytest.raises(DependencyFailure):
        run(lambda: caller.http("GET", "/x"))
    assert len(seen) == 1 and counters.retries["auth"] == 0


def test_an_open_breaker_fails_fast_without_a_call():
    doc = copy.deepcopy(view(attempts=1).doc)
    doc["breaker"]["failure_threshold"] = 2
    caller, counters, seen = make([502], config=ConfigView(doc))
    for _ in range(2):
        with pytest.raises(DependencyFailure):
            run(lambda: caller.http("GET", "/x"))
    with pytest.raises(DependencyFailure) as err:
        run(lambda: caller.http("GET", "/x"))
    assert err.value.kind == "breaker_open" and err.value.retry_after_s > 0
    assert len(seen) == 2 and caller.breaker.state == "open"


def test_breakers_knob_brittle_keeps_calling():
    doc = copy.deepcopy(view(attempts=1).doc)
    doc["breaker"]["failure_threshold"] = 1
    caller, counters, seen = make([502], config=ConfigView(doc), knobs=parse_knobs("brittle", "breakers"))
    for _ in range(3):
        with pytest.raises(DependencyFailure):
            run(lambda: caller.http("GET", "/x"))
    assert len(seen) == 3 and caller.breaker.state == "closed"


def test_no_call_when_the_deadline_has_passed():
    caller, counters, seen = make([200])
    with pytest.raises(DependencyFailure) as err:
        run(lambda: caller.http("GET", "/x"), RequestContext(deadline=0.0))
    assert err.value.kind == "no_time_left" and seen == []


def test_the_remaining_deadline_is_sent_along_and_degraded_names_propagate():
    ctx = RequestContext(deadline=None)
    caller, counters, seen = make([200], headers={"x-cascade-degraded": "stale_timeline"})
    run(lambda: caller.http("GET", "/x"), ctx)
    assert int(seen[0].headers["x-cascade-deadline-ms"]) == 300  # auth's configured timeout
    assert ctx.degraded == ["stale_timeline"] and ctx.used == []


def test_timeouts_knob_brittle_sends_no_deadline():
    caller, counters, seen = make([200], knobs=parse_knobs("brittle", "timeouts"))
    run(lambda: caller.http("GET", "/x"), RequestContext(deadline=None))
    assert "x-cascade-deadline-ms" not in seen[0].headers


def test_a_broken_unvalidated_config_breaks_the_call_itself():
    caller, counters, seen = make([200], config=ConfigView({"retry": {}}, validated=False))
    with pytest.raises(KeyError):
        run(lambda: caller.http("GET", "/x"))
    assert seen == []
