"""Bounded background load: journeys sent at a fixed rate for a fixed time, recorded per request.

    with Load(mesh, ["login", "home"], rate_per_s=40, duration_s=3) as load:
        with chaos.inject(Latency("timeline->media", ms=800)):
            time.sleep(1)
    stats = load.window(journey="login")        # availability, p50, p99, verdict counts

Open loop: requests go out on schedule whether or not earlier ones have answered (a slow
dependency must not slow the load down, or the load would hide the very pile-up it is there
to show). Rate, duration and total count are capped, so a typo cannot flood the machine.

A test that judges writes needs enough of them acknowledged, however long recovery took on a
slow machine: `until_acked=10` keeps the load going past `duration_s`, at the same rate, until
ten writes of the first journey are acknowledged, for at most `until_acked_within_s` more.

    posting = Load(mesh, ["post"], rate_per_s=10, duration_s=3, until_acked=10)
"""

from __future__ import annotations

import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping, Sequence

from ..errors import UsageError
from .journeys import acked_id, run_journey_with_body

if TYPE_CHECKING:
    from ..mesh import Mesh

__all__ = ["Load", "LoadSample", "WindowStats", "percentile"]

MAX_RATE_PER_S = 200.0
MAX_DURATION_S = 120.0
MAX_REQUESTS = 20_000
WORKERS = 32
OK_VERDICTS = frozenset({"full", "degraded"})


@dataclass(frozen=True)
class LoadSample:
    """One request of the load: when it started (monotonic s), its journey, verdict, latency, acked id."""

    at: float
    journey: str
    verdict: str
    elapsed_ms: float
    acked: str | None = None


@dataclass(frozen=True)
class WindowStats:
    """Verdict counts and latency percentiles of the samples in one time window."""

    count: int
    verdicts: Mapping[str, int]
    p50_ms: float
    p99_ms: float

    @property
    def availability(self) -> float:
        """Share of requests that came out `full` or `degraded` (1.0 for an empty window)."""
        if not self.count:
            return 1.0
        return sum(n for v, n in self.verdicts.items() if v in OK_VERDICTS) / self.count

    def describe(self) -> str:
        counts = ", ".join(f"{v}={n}" for v, n in sorted(self.verdicts.items()))
        return f"{self.count} requests ({counts}), availability {self.availability:.1%}, p50 {self.p50_ms:.0f} ms, p99 {self.p99_ms:.0f} ms"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (0 < q <= 100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


class Load:
    """Runs journeys round-robin at `rate_per_s` for `duration_s` in the background."""

    def __init__(self, mesh: Mesh, journeys: Sequence[str], *, rate_per_s: float, duration_s: float,
                 until_acked: int | None = None, until_acked_within_s: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not journeys:
            raise UsageError("Load needs at least one journey")
        for name in journeys:
            mesh.topology.journey(name)  # unknown names fail here, listing the journeys
        if not 0 < rate_per_s <= MAX_RATE_PER_S:
            raise UsageError(f"Load.rate_per_s must be in (0, {MAX_RATE_PER_S:.0f}], got {rate_per_s!r}")
        if not 0 < duration_s <= MAX_DURATION_S:
            raise UsageError(f"Load.duration_s must be in (0, {MAX_DURATION_S:.0f}], got {duration_s!r}")
        if until_acked is not None and not 0 < until_acked <= MAX_REQUESTS:
            raise UsageError(f"Load.until_acked must be in (0, {MAX_REQUESTS}], got {until_acked!r}")
        if not 0 < until_acked_within_s <= MAX_DURATION_S:
            raise UsageError(f"Load.until_acked_within_s must be in (0, {MAX_DURATION_S:.0f}], "
                             f"got {until_acked_within_s!r}")
        self.total = min(MAX_REQUESTS, max(1, int(rate_per_s * duration_s)))
        self.until_acked, self.duration_s = until_acked, duration_s
        self.until_acked_within_s = until_acked_within_s
        self.mesh, self.journeys, self.rate, self.clock = mesh, list(journeys), rate_per_s, clock
        self.samples: list[LoadSample] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cascade-load", daemon=True)
        self.started_at = 0.0

    def __enter__(self) -> Load:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wait()

    def start(self) -> None:
        self.started_at = self.clock()
        self._thread.start()

    def stop(self) -> None:
        """Send no more requests; wait for those in flight."""
        self._stop.set()
        self._thread.join()

    def wait(self) -> None:
        """Wait until every scheduled request has been sent and answered."""
        self._thread.join()

    def _wants_more(self, i: int) -> bool:
        """Whether request `i` goes out: within the count, or still short of `until_acked`."""
        if i < self.total:
            return True
        if self.until_acked is None or i >= MAX_REQUESTS:
            return False
        over = self.clock() - self.started_at - self.duration_s
        return over < self.until_acked_within_s and len(self.acked(self.journeys[0])) < self.until_acked

    def _run(self) -> None:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="cascade-load") as pool:
            i = 0
            while self._wants_more(i):
                delay = self.started_at + i / self.rate - self.clock()
                if delay > 0 and self._stop.wait(delay):
                    break
                if self._stop.is_set():
                    break
                pool.submit(self._one, self.journeys[i % len(self.journeys)])
                i += 1

    def _one(self, name: str) -> None:
        at = self.clock()
        obs, body = run_journey_with_body(self.mesh, name, clock=self.clock)
        sample = LoadSample(at, name, obs.verdict, obs.elapsed_ms, acked_id(name, self.mesh, obs.status, body))
        with self._lock:
            self.samples.append(sample)

    def window(self, start: float | None = None, end: float | None = None, *, journey: str | None = None) -> WindowStats:
        """Stats of the samples that started in [start, end) (monotonic seconds), for one or all journeys."""
        with self._lock:
            picked = [s for s in self.samples
                      if (journey is None or s.journey == journey)
                      and (start is None or s.at >= start) and (end is None or s.at < end)]
        verdicts: dict[str, int] = {}
        for s in picked:
            verdicts[s.verdict] = verdicts.get(s.verdict, 0) + 1
        lat = [s.elapsed_ms for s in picked]
        return WindowStats(len(picked), verdicts, percentile(lat, 50), percentile(lat, 99))

    def acked(self, journey: str) -> list[str]:
        """Ids of the writes this load's `journey` requests had acknowledged."""
        with self._lock:
            return [s.acked for s in self.samples if s.journey == journey and s.acked is not None]
