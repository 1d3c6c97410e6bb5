"""The per-test injector: applies faults, records them on the timeline, and always reverts them.

    with chaos.inject(Latency("timeline->media", ms=2_000)):
        home = mesh.journey("home")            # the fault lives only inside this block

    with chaos.schedule(Scheduled(Latency("timeline->media", ms=800), at=0.2, for_=1.0),
                        *flapping(Down("timeline->redis"), start=0.0, down_s=0.2, up_s=0.2, times=3)):
        ...                                    # faults come and go on the run's clock

Every fault is validated against the topology before the first one is applied. Revert runs on
normal exit, on an exception, on Ctrl-C; `revert_all()` (the fixture's teardown) catches anything
left and raises `RevertFailed` naming each fault it could not undo, after trying them all.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator

from .judge.assertions import ChaosAssertions
from .errors import HarnessError, InvalidFault, RevertFailed
from .faults.base import Fault, apply_fault
from .observe.journeys import Recovery, run_journeys
from .topology import parse_edge_name
from .judge.verdicts import Observation, worse

if TYPE_CHECKING:
    from .mesh import Mesh

__all__ = ["Chaos", "Scheduled", "TimelineEvent", "flapping"]


@dataclass(frozen=True)
class TimelineEvent:
    """One line of the fault timeline: seconds since the chaos started, what happened, to what."""

    t_s: float
    action: str  # applied | reverted | apply_failed | revert_failed
    fault: str
    kind: str
    targets: tuple[str, ...]
    detail: str = ""
    value: Any = field(default=None, compare=False, repr=False)  # the fault itself: what a journal records

    def line(self) -> str:
        extra = f"  ({self.detail})" if self.detail else ""
        return f"+{self.t_s:7.3f}s  {self.action:<13} {self.fault}{extra}"


@dataclass(frozen=True)
class Scheduled:
    """A fault applied `at` seconds into a schedule and reverted `for_` seconds later."""

    fault: Fault
    at: float = 0.0
    for_: float = 1.0

    def __post_init__(self) -> None:
        for name in ("at", "for_"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise InvalidFault(f"Scheduled.{name} must be a number of seconds >= 0, got {value!r}")


def flapping(fault: Fault, *, start: float = 0.0, down_s: float, up_s: float, times: int) -> list[Scheduled]:
    """The same fault on and off `times` times: a flapping dependency."""
    if times < 1:
        raise InvalidFault(f"flapping.times must be >= 1, got {times}")
    return [Scheduled(fault, at=start + i * (down_s + up_s), for_=down_s) for i in range(times)]


@dataclass
class _Active:
    fault: Fault
    undo: Callable[[], None]
    abandoned: int | None = None  # calls its edge's caller had given up on when it was applied (None: unknown)


class Chaos(ChaosAssertions):
    """Applies faults to one mesh, keeps the timeline, and guarantees revert.

    With `observe=True` (the fixture's default) it also records every journey observation
    made while faults are active, sweeps the journeys not yet seen just before a block's
    faults are reverted, and snapshots the calls each service has sent at the first fault, so the
    assertions of `ChaosAssertions` have a during-picture of the whole mesh.
    """

    def __init__(self, mesh: Mesh, *, observe: bool = True, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.mesh = mesh
        self.clock = clock
        self.sleep = sleep
        self.t0 = clock()
        self.timeline: list[TimelineEvent] = []
        self.observe = observe
        self.during: dict[str, Observation] = {}
        self.after: dict[str, Observation] = {}
        self.recovery: Recovery | None = None
        self.calls_before: dict[str, Any] = {}  # service -> calls sent per callee at the first fault, or Unknown
        self._active: list[_Active] = []
        self._lock = threading.RLock()
        self._unsubscribe = mesh.subscribe(self._on_observation) if observe else (lambda: None)

    def close(self) -> None:
        """Stop recording observations (the fixture calls this after revert_all)."""
        self._unsubscribe()

    # -- one-shot injection ------------------------------------------------------

    @contextlib.contextmanager
    def inject(self, *faults: Fault) -> Iterator[Chaos]:
        """Apply every fault (all validated first); revert them all when the block ends."""
        self.validate(*faults)
        applied: list[_Active] = []
        try:
            for fault in faults:
                applied.append(self._apply(fault))
            yield self
            if self.observe:
                self.sweep()
        finally:
            self._revert_many(reversed(applied))

    def sweep(self) -> dict[str, Observation]:
        """Run, once and in parallel, every journey not yet observed while the current faults are active."""
        with self._lock:
            missing = [n for n in self.mesh.topology.journeys if n not in self.during]
        return run_journeys(self.mesh, missing) if missing else {}

    def apply(self, fault: Fault) -> None:
        """Apply a fault that stays until `revert_all()` (the fixture's teardown at the latest)."""
        self.validate(fault)
        self._apply(fault)

    def validate(self, *faults: Any) -> None:
        for fault in faults:
            if not hasattr(fault, "validate") or not hasattr(fault, "describe"):
                raise InvalidFault(f"{fault!r} is not a fault; build one from harness.faults (e.g. Latency(...))")
            fault.validate(self.mesh.topology)

    def revert_all(self) -> None:
        """Revert whatever is still applied, newest first; raise RevertFailed if any revert failed."""
        with self._lock:
            leftovers = list(reversed(self._active))
        self._revert_many(leftovers)

    def revert(self, touching: Callable[[tuple[str, ...]], bool] = lambda _targets: True, *,
               which: Callable[[Fault], bool] = lambda _fault: True) -> tuple[Fault, ...]:
        """Revert the active faults whose targets satisfy `touching` and that `which` picks (all by default), newest first.

        Returns them; raises RevertFailed like `revert_all` (what failed is forgotten either way).
        """
        with self._lock:
            chosen = [a for a in reversed(self._active) if touching(self.targets(a.fault)) and which(a.fault)]
        self._revert_many(chosen)
        return tuple(a.fault for a in chosen)

    @property
    def active(self) -> tuple[Fault, ...]:
        with self._lock:
            return tuple(a.fault for a in self._active)

    def faulted(self) -> tuple[frozenset[str], frozenset[str]]:  # type: ignore[override]
        """(edges, services) touched by any fault applied so far in this test."""
        edges: set[str] = set()
        services: set[str] = set()
        for ev in self.timeline:
            if ev.action == "applied":
                for t in ev.targets:
                    (edges if "->" in t else services).add(t)
        return frozenset(edges), frozenset(services)

    # -- scheduled injection -------------------------------------------------------

    @contextlib.contextmanager
    def schedule(self, *plan: Scheduled) -> Iterator[_Schedule]:
        """Run faults on a clock in the background; on exit, stop it and revert what is left."""
        self.validate(*(s.fault for s in plan))
        sched = _Schedule(self, list(plan))
        sched.start()
        try:
            yield sched
        finally:
            sched.stop()
            self._revert_many(reversed(sched.active))
            if sched.errors:
                raise sched.errors[0]

    # -- internals -------------------------------------------------------------------

    def targets(self, fault: Fault) -> tuple[str, ...]:
        """The edges and services `fault` touches (a bad config push: the config service)."""
        return fault.targets(self.mesh.topology)

    def _on_observation(self, obs: Observation, body: bytes) -> None:
        with self._lock:
            if self._active:
                seen = self.during.get(obs.journey)
                # While faults are active, the worst verdict a journey showed is the one judged.
                if seen is None or not worse(seen.verdict, obs.verdict):
                    self.during[obs.journey] = obs
            elif self.timeline:
                self.after[obs.journey] = obs

    def _snapshot_calls(self) -> None:
        """Every HTTP service's calls sent so far (the applied-version protocol), the base of `amplification`."""
        from concurrent.futures import ThreadPoolExecutor

        from .config.applied import calls_sent

        names = [n for n, s in self.mesh.topology.services.items() if s.http]
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            self.calls_before = dict(zip(names, pool.map(lambda n: calls_sent(self.mesh, n), names)))

    def _event(self, action: str, fault: Fault, detail: str = "") -> None:
        targets = self.targets(fault)
        ev = TimelineEvent(self.clock() - self.t0, action, fault.describe(), fault.kind, targets, detail, fault)
        with self._lock:
            self.timeline.append(ev)

    def _apply(self, fault: Fault) -> _Active:
        self.mesh.dirty = True  # the next reset waits for the mesh to settle
        if self.observe and not self.timeline:
            self._snapshot_calls()
        # Counted before the fault is in place: nothing can have been given up on through it yet,
        # and the caller answers at its usual speed.
        abandoned = self._abandoned(fault) if fault.drain_s() else None
        try:
            undo = apply_fault(self.mesh, fault)
        except BaseException as exc:
            self._event("apply_failed", fault, str(exc))
            raise
        active = _Active(fault, undo, abandoned)
        with self._lock:
            for other in self._active:  # a delaying toxic whose connections this fault closes may hold their data
                if fault.closes_connections(other.fault.target):
                    other.abandoned = None
            if any(a.fault.closes_connections(fault.target) for a in self._active):
                active.abandoned = None
            self._active.append(active)
        self._event("applied", fault)
        return active

    def _revert_many(self, actives: Any) -> None:
        failures: list[str] = []
        for a in actives:
            with self._lock:
                if a not in self._active:
                    continue  # already reverted (e.g. by a schedule)
            try:
                self._drain(a)
                a.undo()
            except (HarnessError, OSError) as exc:
                self._event("revert_failed", a.fault, str(exc))
                failures.append(f"{a.fault.describe()}: {exc}")
            else:
                self._event("reverted", a.fault)
            with self._lock:
                self._active.remove(a)
        if failures:
            raise RevertFailed(
                "could not revert " + "; ".join(failures)
                + ". The mesh is NOT at its baseline; the next test's reset (or `cascade down`) will try again."
            )

    # -- draining a delaying toxic before it is removed -------------------------------

    def _abandoned(self, fault: Fault) -> int | None:
        """How many calls across the fault's edge its caller has given up on so far (None: cannot tell)."""
        from .config.applied import abandoned_calls  # the applied-version protocol (docs/service-protocol.md)

        caller, callee = parse_edge_name(fault.target)
        return abandoned_calls(self.mesh, caller, callee)  # None (logged) when the caller does not say: assume the worst

    def _drain(self, a: _Active) -> None:
        """Wait until data `a`'s toxic may still hold has left it, unless no caller gave up on the edge.

        Toxiproxy can hang for good removing a toxic that holds data for a connection its caller
        closed (Shopify/toxiproxy#558; `ToxicFault.drain_s`). When the edge's caller shows no timeout or
        cancelled call to the callee since the fault was applied, and nothing that closes
        connections on the edge was active meanwhile, every delayed chunk has a live reader and
        the toxic can go at once.
        """
        wait = self.mesh.quiet_since + a.fault.drain_s() - time.monotonic()
        if wait <= 0:
            return
        if a.abandoned is not None and self._abandoned(a.fault) == a.abandoned:
            return
        time.sleep(wait)


class _Schedule:
    """A background thread that applies and reverts scheduled faults on the chaos clock."""

    def __init__(self, chaos: Chaos, plan: list[Scheduled]) -> None:
        self.chaos = chaos
        self.errors: list[BaseException] = []
        self.active: list[_Active] = []
        self._stop = threading.Event()
        self._done = threading.Event()
        steps: list[tuple[float, int, int, Scheduled]] = []
        for i, s in enumerate(plan):
            steps.append((s.at, 1, i, s))  # apply
            steps.append((s.at + s.for_, 0, i, s))  # revert sorts before an apply at the same instant
        self._steps = sorted(steps, key=lambda x: (x[0], x[1], x[2]))
        self._thread = threading.Thread(target=self._run, name="cascade-schedule", daemon=True)

    def start(self) -> None:
        self.start_t = self.chaos.clock()
        self._thread.start()

    def wait(self, timeout_s: float | None = None) -> None:
        """Block until every scheduled fault has been applied and reverted."""
        self._done.wait(timeout_s)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        by_index: dict[int, _Active] = {}
        try:
            for at, is_apply, i, s in self._steps:
                delay = self.start_t + at - self.chaos.clock()
                if delay > 0 and self._stop.wait(delay):
                    return
                if is_apply:
                    by_index[i] = self.chaos._apply(s.fault)
                    self.active.append(by_index[i])
                elif i in by_index:
                    a = by_index.pop(i)
                    self.active.remove(a)
                    self.chaos._revert_many([a])
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread, raised on exit
            self.errors.append(exc)
        finally:
            self._done.set()
