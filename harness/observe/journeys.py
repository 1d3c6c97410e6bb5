"""Observing a live mesh: run journeys, measure the steady state, wait for recovery, read counters, find lost writes.

    journey request ──> probe (timed HTTP) ──> classify (pure) ──> Observation
    steady state    = a few observations of every journey before any fault (baseline verdict, p50)
    recovery        = poll every journey until each is back to its baseline verdict
    lost writes     = every id a write journey acknowledged, read back after recovery

Time is passed in (`clock`, `sleep`) so callers can test the loops without waiting.
"""

from __future__ import annotations

import json
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Protocol

from ..errors import UsageError
from ..clients.probe import http_request
from ..judge.verdicts import Observation, classify, worse

if TYPE_CHECKING:
    from ..topology import Topology


class ObservedMesh(Protocol):
    """What observing journeys needs of a mesh (`harness.mesh.Mesh` is one): so this module never imports it."""

    topology: Topology

    def address(self, service: str) -> tuple[str, int]:
        """Where `service` answers HTTP."""
        ...

    def record(self, obs: Observation, body: bytes) -> None:
        """Hand one observation to whoever subscribed (Chaos, the recorder)."""
        ...

__all__ = [
    "Baseline",
    "LostWrites",
    "Recovery",
    "SteadyState",
    "acked_id",
    "find_lost_writes",
    "measure_steady_state",
    "run_journey",
    "run_journey_with_body",
    "run_journeys",
    "wait_for_recovery",
]

# How long past its budget a journey is waited for: long enough to measure a `hung` answer,
# short enough that a blackholed dependency costs a scenario a bounded amount of time.
HUNG_GRACE = 0.5
HUNG_GRACE_MAX_S = 2.0


def run_journey(mesh: ObservedMesh, name: str, *, clock: Callable[[], float] = time.monotonic, origin_s: float = 0.0,
                grace_s: float | None = None, wait_s: float | None = None) -> Observation:
    """Send a journey's entry request once and classify the answer."""
    return run_journey_with_body(mesh, name, clock=clock, origin_s=origin_s, grace_s=grace_s, wait_s=wait_s)[0]


def run_journey_with_body(mesh: ObservedMesh, name: str, *, clock: Callable[[], float] = time.monotonic,
                          origin_s: float = 0.0, grace_s: float | None = None,
                          wait_s: float | None = None) -> tuple[Observation, bytes]:
    """Like `run_journey`, also returning the whole response body.

    `grace_s` is how long past its budget the answer is awaited (default: HUNG_GRACE of the
    budget, at most HUNG_GRACE_MAX_S); an explorer that only needs the verdict passes less.
    `wait_s` replaces budget and grace: only for an answer known not to come (a frozen entry
    service), which then reads hung after `wait_s`.
    """
    j = mesh.topology.journey(name)
    host, port = mesh.address(j.service)
    budget_s = j.budget_ms / 1000
    grace = min(HUNG_GRACE_MAX_S, budget_s * HUNG_GRACE) if grace_s is None else grace_s
    started = clock()
    r = http_request(host, port, j.method, j.path, headers=j.headers, json=j.json,
                     timeout_s=budget_s + grace if wait_s is None else wait_s, clock=clock)
    obs = classify(j, mesh.topology, status=r.status, elapsed_ms=r.elapsed_ms, body=r.body, headers=r.headers,
                   error=r.error, at_s=started - origin_s, timed_out=r.timed_out)
    mesh.record(obs, r.body)
    return obs, r.body


def run_journeys(mesh: ObservedMesh, names: Iterable[str] | None = None, **kw: Any) -> dict[str, Observation]:
    """Run several journeys at once (one thread each) and return their observations by name."""
    names = sorted(names if names is not None else mesh.topology.journeys)
    if not names:
        return {}
    with ThreadPoolExecutor(max_workers=len(names), thread_name_prefix="cascade-journey") as pool:
        futures = {n: pool.submit(run_journey, mesh, n, **kw) for n in names}
        return {n: f.result() for n, f in futures.items()}


@dataclass(frozen=True)
class Baseline:
    """A journey's steady state: its usual verdict and latency."""

    journey: str
    verdict: str
    p50_ms: float
    max_ms: float
    samples: tuple[Observation, ...]


@dataclass(frozen=True)
class SteadyState:
    """Every journey's baseline, measured in this run before any fault."""

    baselines: Mapping[str, Baseline]

    def verdicts(self) -> dict[str, str]:
        return {n: b.verdict for n, b in self.baselines.items()}

    def observations(self) -> dict[str, Observation]:
        """One representative observation per journey (the median-latency sample)."""
        out = {}
        for n, b in self.baselines.items():
            ordered = sorted(b.samples, key=lambda o: o.elapsed_ms)
            out[n] = ordered[len(ordered) // 2]
        return out


def measure_steady_state(mesh: ObservedMesh, names: Iterable[str] | None = None, *, samples: int = 3) -> SteadyState:
    """Run every journey `samples` times (journeys in parallel) and keep the baselines."""
    if samples < 1:
        raise UsageError(f"steady state needs samples >= 1, got {samples}")
    runs = [run_journeys(mesh, names) for _ in range(samples)]
    baselines = {}
    for n in runs[0]:
        obs = tuple(r[n] for r in runs)
        verdicts = [o.verdict for o in obs]
        baselines[n] = Baseline(
            journey=n,
            verdict=max(set(verdicts), key=verdicts.count),
            p50_ms=statistics.median(o.elapsed_ms for o in obs),
            max_ms=max(o.elapsed_ms for o in obs),
            samples=obs,
        )
    return SteadyState(baselines)


@dataclass(frozen=True)
class Recovery:
    """How long after the last revert every journey was back to its baseline verdict."""

    recovered: bool
    seconds: float
    last: Mapping[str, Observation]
    still_off: tuple[str, ...] = ()
    per_journey_s: Mapping[str, float] = field(default_factory=dict)


def wait_for_recovery(
    mesh: ObservedMesh,
    baseline: Mapping[str, str],
    *,
    within_s: float,
    since: float | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    interval_s: float = 0.05,
) -> Recovery:
    """Poll the journeys until each is no worse than its baseline verdict; give up after `within_s`."""
    start = clock() if since is None else since
    pending = set(baseline)
    recovered_at: dict[str, float] = {}
    last: dict[str, Observation] = {}
    while True:
        for n, obs in run_journeys(mesh, pending, clock=clock).items():
            last[n] = obs
            if not worse(obs.verdict, baseline[n]):
                recovered_at[n] = clock() - start
        pending -= set(recovered_at)
        elapsed = clock() - start
        if not pending:
            return Recovery(True, max(recovered_at.values(), default=0.0), last, (), recovered_at)
        if elapsed >= within_s:
            return Recovery(False, elapsed, last, tuple(sorted(pending)), recovered_at)
        sleep(interval_s)


def acked_id(journey_name: str, mesh: ObservedMesh, status: int | None, body: bytes) -> str | None:
    """The id a write journey's answer acknowledged, or None if it acknowledged nothing."""
    j = mesh.topology.journey(journey_name)
    if j.readback is None or status not in j.expect_status:
        return None
    try:
        value = json.loads(body).get(j.readback.id_field)
    except (ValueError, AttributeError):
        return None
    return None if value is None else str(value)


@dataclass(frozen=True)
class LostWrites:
    """Acknowledged writes that are gone (404) or could not be read back at all after recovery."""

    checked: int
    lost: tuple[str, ...]
    unreadable: tuple[str, ...] = ()

    def message(self, journey: str) -> str:
        parts = []
        if self.lost:
            parts.append(f"{len(self.lost)} of {self.checked} acknowledged '{journey}' writes were lost (404 on read-back): "
                         + ", ".join(self.lost[:20]) + (" ..." if len(self.lost) > 20 else ""))
        if self.unreadable:
            parts.append(f"{len(self.unreadable)} could not be read back at all: " + ", ".join(self.unreadable[:20]))
        return "; ".join(parts) or f"all {self.checked} acknowledged '{journey}' writes read back"


def find_lost_writes(mesh: ObservedMesh, journey_name: str, ids: Iterable[str], *, within_s: float = 5.0) -> LostWrites:
    """Read every acknowledged id back; a 404 is a lost write, anything else but 200 is retried (tenacity)."""
    from tenacity import RetryError, Retrying, retry_if_result, stop_after_delay, wait_fixed

    j = mesh.topology.journey(journey_name)
    if j.readback is None:
        raise UsageError(f"journey {journey_name!r} declares no readback; add journeys.{journey_name}.readback to the topology")
    host, port = mesh.address(j.readback.service)
    ids = list(dict.fromkeys(ids))
    lost, unreadable = [], []
    # A dependency that just recovered may still refuse reads for a moment (an open breaker):
    # that is "not readable yet", not "lost", so only a 404 counts as a loss.
    retrying = Retrying(stop=stop_after_delay(within_s), wait=wait_fixed(0.05),
                        retry=retry_if_result(lambda status: status not in (200, 404)))
    for i in ids:
        try:
            status = retrying(lambda: http_request(host, port, "GET", j.readback.path.format(id=i), timeout_s=2.0).status)
        except RetryError:
            unreadable.append(i)
            continue
        if status == 404:
            lost.append(i)
    return LostWrites(len(ids), tuple(lost), tuple(unreadable))
