"""Calls to one dependency (HTTP or Redis) with the mode's timeouts, retries, breaker and counters.

    call ─> retry loop (tenacity) ─> one attempt: breaker.allow? ─> timeout = min(config, deadline left)
                 │                                                  ─> send ─> success / DependencyFailure
                 └─ resilient: retry transport failures, 502, 504 with jittered backoff, while the
                    deadline and the retry budget allow; brittle retries: 5 immediate attempts, any failure

A 4xx is an answer, not a failure: it is returned to the service, which decides what it means.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping, TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_none,
    wait_random_exponential,
)

from .breaker import Breaker, NullBreaker
from .config_state import ConfigView
from .context import DEADLINE_HEADER, DEGRADED_HEADER, HOP_MARGIN_S, MIN_ATTEMPT_S, attempt_timeout_s, current
from .context import note_propagated, parse_degraded
from .counters import Counters
from .errors import DependencyFailure
from .knobs import Knobs
from .retry_budget import RetryBudget

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["NAIVE_ATTEMPTS", "Answer", "Caller", "is_retryable"]

T = TypeVar("T")
NAIVE_ATTEMPTS = 5
# Failed attempts are logged (so a run's logs say which call failed, how, and after how long), but
# at most this many per dependency per second: a fault under load must not turn into a log flood.
FAILURE_LOG_PER_S = 10
log = logging.getLogger("chirp")
_CONNECTING = " connecting to "  # how redis-py words a failure to open a connection (refused, timed out)
_RETRYABLE_STATUS = frozenset({502, 504})


@dataclass(frozen=True)
class Answer:
    """A dependency's HTTP answer with a status below 500."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        import json

        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "application/octet-stream")


def is_retryable(failure: BaseException, *, naive: bool) -> bool:
    """Whether a failed attempt is worth another: naive retries retry anything that reached the wire."""
    if not isinstance(failure, DependencyFailure) or failure.kind in ("breaker_open", "no_time_left"):
        return False
    if naive:
        return True
    if failure.kind == "error_status":
        return failure.status in _RETRYABLE_STATUS
    return failure.kind in ("timeout", "unreachable")


class Caller:
    """Everything one service does to reach one dependency."""

    def __init__(self, callee: str, url: str, *, knobs: Knobs, config: Callable[[], ConfigView],
                 counters: Counters, clock: Callable[[], float] = time.monotonic) -> None:
        self.callee = callee
        self.url = url
        self.knobs = knobs
        self.config = config
        self.counters = counters
        self.clock = clock
        self.breaker: Breaker = NullBreaker(clock=clock) if knobs.is_brittle("breakers") else Breaker(clock=clock)
        self.budget = RetryBudget(clock=clock)
        self.http_client: httpx.AsyncClient | None = None
        self.redis_client: Redis | None = None
        self._log_window = (0.0, 0, 0)  # (second it started, lines logged in it, lines suppressed)

    # -- the two kinds of call ---------------------------------------------------------

    async def http(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                   json: Any = None) -> Answer:
        """One HTTP request to the dependency; a 5xx or transport failure raises DependencyFailure."""
        assert self.http_client is not None, "the HTTP client is created in the app's lifespan"
        client = self.http_client

        async def attempt(timeout_s: float | None) -> Answer:
            hdrs = dict(headers or {})
            if timeout_s is not None:
                hdrs[DEADLINE_HEADER] = str(int(timeout_s * 1000))
            try:
                async with asyncio.timeout(timeout_s):
                    r = await client.request(method, self.url + path, headers=hdrs, json=json)
            except (TimeoutError, httpx.TimeoutException):
                raise DependencyFailure(self.callee, "timeout", f"no answer within {_ms(timeout_s)}") from None
            except httpx.HTTPError as exc:
                raise DependencyFailure(self.callee, "unreachable", f"{type(exc).__name__}: {exc}") from None
            if r.status_code >= 500:
                raise DependencyFailure(
                    self.callee, "error_status", f"answered {r.status_code}", status=r.status_code,
                    body=r.content, content_type=r.headers.get("content-type", ""),
                    retry_after_s=_retry_after(r.headers.get("retry-after")),
                )
            return Answer(r.status_code, r.content, {k.lower(): v for k, v in r.headers.items()})

        answer = await self._call(attempt)
        note_propagated(*parse_degraded(answer.headers.get(DEGRADED_HEADER)))
        return answer

    async def redis(self, op: Callable[[Redis], Awaitable[T]]) -> T:
        """One Redis operation (a command, pipeline or script) under the same policy."""
        assert self.redis_client is not None, "the Redis client is created in the app's lifespan"
        import redis.exceptions as rx  # lazy: only services with Redis pay for importing it

        client = self.redis_client

        async def attempt(timeout_s: float | None) -> T:
            # A pool outlives the fault that spoiled its idle connections: after a proxy is disabled
            # and enabled again, some redis-py releases (8.1; see
            # tests/integration/test_redis_pool_after_outage.py) hand out connections the proxy has
            # dropped, and only the command sent on one finds out ("Connection closed by server"),
            # while others reconnect them before handing them out. That says nothing about
            # Redis, so it is not a failed attempt: the idle connections are dropped and the command
            # goes out once more on a fresh one, in the same attempt and time. The breaker's probe
            # starts from fresh connections too: the ones from before it opened are suspect.
            if self.breaker.state == "half_open":
                await client.connection_pool.disconnect(inuse_connections=False)
            try:
                async with asyncio.timeout(timeout_s):
                    try:
                        return await op(client)
                    except rx.ConnectionError as exc:
                        if _CONNECTING in str(exc):  # a fresh connection refused: Redis is not there
                            raise
                        await client.connection_pool.disconnect(inuse_connections=False)
                        self.counters.calls[self.callee] += 1  # Redis sees this one too
                        return await op(client)
            except (TimeoutError, rx.TimeoutError):
                raise DependencyFailure(self.callee, "timeout", f"no reply within {_ms(timeout_s)}") from None
            except (rx.ConnectionError, OSError) as exc:
                raise DependencyFailure(self.callee, "unreachable", f"{type(exc).__name__}: {exc}") from None
            except rx.RedisError as exc:
                raise DependencyFailure(self.callee, "redis_error", f"{type(exc).__name__}: {exc}") from None

        return await self._call(attempt)

    # -- the policy ----------------------------------------------------------------------

    async def _call(self, attempt: Callable[[float | None], Awaitable[T]]) -> T:
        view = self.config()
        naive = self.knobs.is_brittle("retries")
        timeout_ms = None if self.knobs.is_brittle("timeouts") else view.timeout_ms(self.callee)
        ctx = current()
        deadline = ctx.deadline if ctx is not None else None
        b = view.breaker()
        self.breaker.configure(b.failure_threshold, b.reset_timeout_ms / 1000)
        if naive:
            retrying = AsyncRetrying(stop=stop_after_attempt(NAIVE_ATTEMPTS), wait=wait_none(), reraise=True,
                                     retry=retry_if_exception(lambda e: is_retryable(e, naive=True)))
        else:
            r = view.retry()
            self.budget.ratio = r.budget_ratio
            base_s = r.base_backoff_ms / 1000

            def out_of_time(rs: RetryCallState) -> bool:
                if deadline is None or timeout_ms is None:
                    return False
                return deadline - self.clock() - (rs.upcoming_sleep or 0) < MIN_ATTEMPT_S + HOP_MARGIN_S

            # stop_any checks in order and short-circuits, so the budget is only spent on a real retry.
            retrying = AsyncRetrying(
                stop=stop_any(stop_after_attempt(r.attempts), out_of_time, lambda rs: not self.budget.try_spend()),
                wait=wait_random_exponential(multiplier=base_s, max=base_s * 16) if base_s > 0 else wait_none(),
                retry=retry_if_exception(lambda e: is_retryable(e, naive=False)),
                reraise=True,
            )
        self.budget.record_call()
        async for a in retrying:
            with a:
                result = await self._attempt(attempt, timeout_ms, deadline, a.retry_state.attempt_number)
        return result

    async def _attempt(self, attempt: Callable[[float | None], Awaitable[T]], timeout_ms: float | None,
                       deadline: float | None, number: int) -> T:
        timeout_s = None
        if timeout_ms is not None:
            timeout_s = attempt_timeout_s(timeout_ms, deadline, self.clock())
            if timeout_s < MIN_ATTEMPT_S:
                raise DependencyFailure(self.callee, "no_time_left", "the request's deadline has passed")
        if not self.breaker.allow():
            retry_after = self.breaker.retry_after_s()
            raise DependencyFailure(self.callee, "breaker_open", "circuit breaker is open", retry_after_s=retry_after)
        self.counters.calls[self.callee] += 1
        if number > 1:
            self.counters.retries[self.callee] += 1
        started, before = self.clock(), self.breaker.state
        try:
            result = await attempt(timeout_s)
        except DependencyFailure as failure:
            self.breaker.record_failure()
            self._note_failure(failure, number, self.clock() - started)
            if self.breaker.state == "open":
                if before == "closed":
                    log.warning("breaker to %s opened after %d failures in a row", self.callee,
                                self.breaker.failure_threshold)
                elif before == "half_open":
                    log.warning("breaker to %s: probe failed, open again", self.callee)
            raise
        except BaseException as exc:
            self.breaker.release()
            if isinstance(exc, asyncio.CancelledError):  # our own caller gave up: this attempt is abandoned
                self.counters.failures[f"{self.callee}:cancelled"] += 1
            raise
        self.breaker.record_success()
        if before == "half_open":
            log.info("breaker to %s closed: probe succeeded", self.callee)
        return result

    def _note_failure(self, failure: DependencyFailure, number: int, elapsed_s: float) -> None:
        self.counters.failures[f"{self.callee}:{failure.kind}"] += 1
        start, logged, suppressed = self._log_window
        now = self.clock()
        if now - start >= 1.0:
            start, logged = now, 0
        if logged >= FAILURE_LOG_PER_S:
            self._log_window = (start, logged, suppressed + 1)
            return
        more = f" ({suppressed} more not logged)" if suppressed else ""
        log.warning("call to %s failed (attempt %d, %.0f ms): %s%s", self.callee, number, elapsed_s * 1000,
                    failure, more)
        self._log_window = (start, logged + 1, 0)


def _ms(timeout_s: float | None) -> str:
    return "forever" if timeout_s is None else f"{timeout_s * 1000:.0f} ms"


def _retry_after(value: str | None) -> float:
    try:
        return max(1.0, float(value)) if value else 1.0
    except ValueError:
        return 1.0
