"""A circuit breaker per dependency: a pure state machine on an injected clock.

    closed ──threshold consecutive failures──> open ──reset timeout elapsed──> half_open
      ^                                          ^                               │ one probe
      └───────────── probe succeeds ─────────────┼──────── probe fails ──────────┘

While open every call fails fast (no connection attempted); half_open lets exactly one probe
through at a time. A probe that never reports back (cancelled) is forgotten after the reset
timeout, so a lost probe cannot wedge the breaker half-open.
"""

from __future__ import annotations

import time
from typing import Callable

__all__ = ["Breaker", "NullBreaker"]


class Breaker:
    """Decides whether a call may go out, from the outcomes of the calls before it."""

    def __init__(self, failure_threshold: int = 5, reset_timeout_s: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self.clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_since: float | None = None

    def configure(self, failure_threshold: int, reset_timeout_s: float) -> None:
        """Take new settings from config; the current state is kept."""
        self.failure_threshold, self.reset_timeout_s = failure_threshold, reset_timeout_s

    @property
    def state(self) -> str:
        """closed, open or half_open, as of now."""
        if self._opened_at is None:
            return "closed"
        if self.clock() - self._opened_at < self.reset_timeout_s:
            return "open"
        return "half_open"

    def retry_after_s(self) -> float:
        """Seconds until the breaker lets a probe through (0 unless open)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self._opened_at + self.reset_timeout_s - self.clock())

    def allow(self) -> bool:
        """May a call go out now? In half_open this claims the single probe slot."""
        state = self.state
        if state == "closed":
            return True
        if state == "open":
            return False
        now = self.clock()
        if self._probe_since is not None and now - self._probe_since < self.reset_timeout_s:
            return False
        self._probe_since = now
        return True

    def record_success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probe_since = None

    def record_failure(self) -> None:
        self._probe_since = None
        if self._opened_at is not None:  # a failed probe: open again for a full reset timeout
            self._opened_at = self.clock()
            return
        self._failures += 1
        if self._failures >= self.failure_threshold:
            self._opened_at = self.clock()

    def release(self) -> None:
        """A call that ended without an outcome (cancelled): free the probe slot, count nothing."""
        self._probe_since = None


class NullBreaker(Breaker):
    """The breakers knob brittle: every call goes out, whatever happened before."""

    def allow(self) -> bool:
        return True

    def record_failure(self) -> None:
        pass

    @property
    def state(self) -> str:
        return "closed"
