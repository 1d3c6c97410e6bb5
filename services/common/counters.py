"""What a service has done since start (or the last reset), served at GET /counters.

`calls` counts every attempt sent to a dependency (what the dependency sees), `retries` the
attempts after the first, so calls / (calls - retries) is the retry amplification. `fallbacks`
counts answers that used each named fallback, `failures` the failed attempts per "callee:kind"
(timeout, unreachable, ..., and cancelled: abandoned because this service's own caller gave up). `loop_stall_max_ms` is the longest time the event loop was blocked:
a timeout seen while it is large was this process's own stall, not the dependency's.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["ABANDONED_KINDS", "Counters"]

# The failures after which the caller no longer reads the connection: what /cascade/v1/state
# reports as calls_abandoned (data a delaying proxy still holds for it has no reader).
ABANDONED_KINDS = ("timeout", "cancelled")


class Counters:
    """Mutable tallies of one process; read with `snapshot`."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.calls: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self.fallbacks: Counter[str] = Counter()
        self.failures: Counter[str] = Counter()
        self.loop_stall_max_ms = 0.0

    def abandoned(self) -> dict[str, int]:
        """Per callee, the calls given up on: the attempt timed out, or was cancelled because our own caller went away."""
        out: dict[str, int] = {}
        for key, n in self.failures.items():
            callee, _, kind = key.rpartition(":")
            if kind in ABANDONED_KINDS:
                out[callee] = out.get(callee, 0) + n
        return out

    def snapshot(self, *, service: str, mode: str, knobs: list[str], breakers: dict[str, str],
                 config_version: int, config_rejected: list[int]) -> dict[str, Any]:
        """The JSON body of GET /counters."""
        return {
            "service": service,
            "mode": mode,
            "knobs": knobs,
            "requests": self.requests,
            "calls": dict(self.calls),
            "retries": dict(self.retries),
            "fallbacks": dict(self.fallbacks),
            "failures": dict(self.failures),
            "loop_stall_max_ms": round(self.loop_stall_max_ms, 1),
            "breakers": breakers,
            "config_version": config_version,
            "config_rejected": config_rejected,
        }
