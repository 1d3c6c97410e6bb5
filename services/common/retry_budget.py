"""A retry budget: retries may add at most `ratio` of the calls in a sliding window (pure, injected clock).

Without a budget every layer's retries multiply (3 attempts at each of 3 hops is 27 calls at
the bottom): the retry storm. With one, a dependency that fails everything sees at most
(1 + ratio) times its normal load, plus a small reserve so a quiet service can still retry.
"""

from __future__ import annotations

import time
from typing import Callable

__all__ = ["RetryBudget"]


class RetryBudget:
    """Counts calls and retries per second over `window_s` seconds and allows retries within the ratio."""

    def __init__(self, ratio: float = 0.2, *, reserve: int = 10, window_s: int = 10,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ratio = ratio
        self.reserve = reserve
        self.window_s = window_s
        self.clock = clock
        self._buckets: dict[int, list[int]] = {}  # second -> [calls, retries]

    def record_call(self) -> None:
        """A first attempt went out."""
        self._bucket()[0] += 1

    def try_spend(self) -> bool:
        """Claim one retry if the window has room for it; False means: do not retry."""
        calls = retries = 0
        for c, r in self._window():
            calls += c
            retries += r
        if retries + 1 > self.ratio * calls + self.reserve:
            return False
        self._bucket()[1] += 1
        return True

    def _bucket(self) -> list[int]:
        now = int(self.clock())
        for second in [s for s in self._buckets if s <= now - self.window_s]:
            del self._buckets[second]
        return self._buckets.setdefault(now, [0, 0])

    def _window(self) -> list[list[int]]:
        now = int(self.clock())
        return [b for s, b in self._buckets.items() if s > now - self.window_s]
