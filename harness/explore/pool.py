"""Exploration on several meshes at once: one worker process per mesh, each running its own Hypothesis search.

    explore(spec, workers=N)   N == 1: the Explorer on one mesh, in this process
                               N > 1:  N worker processes; worker w brings up its own mesh of the
                                       topology and explores it with seed `worker_seed(seed, w)`
    example database           shared: a failure one worker remembers, every worker replays first
    a failure                  the worker that found it shrinks it and writes the journal; the
                               others stop before their next example
    progress                   the workers' progress lines merged: examples and failures summed
    Ctrl-C, SIGTERM            the parent sends each worker one SIGTERM; it reverts and tears its
                               mesh down (workers ignore SIGINT, so a terminal's Ctrl-C reaching
                               the whole group cannot cut that short); a worker whose parent
                               dies gets SIGTERM (parent-death signal)

Why processes and whole meshes: Hypothesis is not thread-safe, and an example spends most of its
time waiting on the mesh (a caller's timeout, a breaker's reset, a toxic draining), not on the
CPU, so a second mesh on the same machine adds nearly as many schedules again
(docs/PERFORMANCE.md). Every journal names the seed of the worker that wrote it, so
`cascade replay` re-runs it exactly as a single-worker run would.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import queue as queue_module
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import HarnessError, UsageError
from ..runtime import RUNTIMES, runtime_traits
from .explorer import DATABASE_DIR, ExploreResult, Explorer, Progress
from .journal import JOURNAL_DIR

__all__ = ["ExploreSpec", "MAX_WORKERS", "check_workers", "explore", "worker_seed"]

MAX_WORKERS = 8  # each worker runs a whole mesh (~10 processes, ~250 MB)
SEED_STRIDE = 1_000_003  # worker w's batches are seeded seed + w * SEED_STRIDE + i: no overlap for ~10**6 batches
STOP_GRACE_S = 60.0  # how long a stopped worker may take to finish its example and tear its mesh down
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ExploreSpec:
    """What to explore, as the CLI and the benchmark give it: plain values a worker process can receive."""

    topology_path: str
    budget_s: float
    seed: int
    mode: str = "resilient"
    runtime: str = "local"
    max_steps: int = 4
    process_faults: bool = True
    config_faults: bool = True
    database_dir: Path = DATABASE_DIR
    journal_dir: Path = JOURNAL_DIR
    state_dir: Path | None = None  # None: the runtime's default (runs are recorded for `cascade cleanup`)


def check_workers(workers: int, runtime: str = "local") -> None:
    """UsageError naming the value unless 1 <= workers <= MAX_WORKERS, and 1 on a runtime without parallel meshes."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers {workers}: use 1 to {MAX_WORKERS} (each worker runs a whole mesh)")
    if workers > 1 and not runtime_traits(runtime).parallel_meshes:
        can = [name for name in RUNTIMES if runtime_traits(name).parallel_meshes]
        raise UsageError(f"--workers {workers} with --runtime {runtime}: several meshes at once run on the "
                         f"{', '.join(can)} runtime only; use --workers 1 with {runtime}")


def worker_seed(seed: int, worker: int) -> int:
    """The seed worker `worker` explores with (worker 0: the run's own seed)."""
    return (seed + worker * SEED_STRIDE) % 2**32


def explore(spec: ExploreSpec, *, workers: int = 1, progress: Callable[[Progress], None] = lambda _p: None,
            worker_progress: Callable[[int, Progress], None] = lambda _w, _p: None) -> ExploreResult:
    """Explore `spec` on `workers` meshes; the merged result (its journal: the first failure found).

    `progress` gets the merged progress, `worker_progress` each worker's own (for benchmarks).
    With several workers the result's `seconds` is the whole run's, the meshes' bring-up included.
    """
    check_workers(workers, spec.runtime)
    if workers == 1:
        return _explore_one(spec, 0, progress=lambda p: (worker_progress(0, p), progress(p)))
    return _Pool(spec, workers, progress, worker_progress).run()


def _explore_one(spec: ExploreSpec, worker: int, *, progress: Callable[[Progress], None],
                 stop: Callable[[], bool] = lambda: False) -> ExploreResult:
    from ..mesh import Mesh
    from ..modes import parse_mode
    from ..topology import load_topology

    topology = load_topology(spec.topology_path)
    seed = worker_seed(spec.seed, worker)
    kw = {"state_dir": spec.state_dir / f"worker-{worker}"} if spec.state_dir is not None else {}
    with Mesh(topology, runtime=spec.runtime, mode=parse_mode(spec.mode, topology.knobs), seed=seed, **kw) as mesh:
        mesh.steady_state()
        return Explorer(mesh, seed=seed, budget_s=spec.budget_s, topology_path=spec.topology_path,
                        database_dir=spec.database_dir, journal_dir=spec.journal_dir, max_steps=spec.max_steps,
                        process_faults=spec.process_faults, config_faults=spec.config_faults,
                        progress=progress, stop=stop).run()


# -- worker processes ---------------------------------------------------------------------


def _worker(worker: int, spec: ExploreSpec, stop: Any, out: Any, parent: int) -> None:
    """One worker process: a mesh of its own, explored until the budget ends or `stop` is set."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)  # a dead runner must not leave a mesh behind
    signal.signal(signal.SIGTERM, _raise_interrupt)  # unwind like Ctrl-C: faults reverted, mesh torn down
    # A terminal's Ctrl-C reaches the whole process group; the parent answers it with one SIGTERM
    # per worker, so a second interrupt cannot cut a worker's teardown short.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if os.getppid() != parent:
        return  # the runner died before the parent-death signal was armed
    try:
        result = _explore_one(spec, worker, progress=lambda p: out.put(("progress", worker, p)), stop=stop.is_set)
    except HarnessError as exc:
        out.put(("error", worker, f"{type(exc).__name__}: {exc}"))
    except KeyboardInterrupt:
        out.put(("interrupted", worker, None))
    else:
        out.put(("result", worker, result))


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


class _Pool:
    """The parent's side: start the workers, merge what they report, stop them all on a failure or Ctrl-C."""

    def __init__(self, spec: ExploreSpec, workers: int, progress: Callable[[Progress], None],
                 worker_progress: Callable[[int, Progress], None]) -> None:
        self.spec, self.workers, self.progress, self.worker_progress = spec, workers, progress, worker_progress
        ctx = multiprocessing.get_context("spawn")  # no fork: the parent may hold threads and sockets
        self.stop, self.out = ctx.Event(), ctx.Queue()
        self.procs = [ctx.Process(target=_worker, args=(w, spec, self.stop, self.out, os.getpid()),
                                  name=f"cascade-explore-{w}", daemon=False) for w in range(workers)]
        self.latest: dict[int, Progress] = {}
        self.results: dict[int, ExploreResult] = {}
        self.errors: dict[int, str] = {}

    def run(self) -> ExploreResult:
        self.started = time.monotonic()
        for p in self.procs:
            p.start()
        try:
            while len(self.results) + len(self.errors) < self.workers:
                try:
                    kind, worker, payload = self.out.get(timeout=0.5)
                except queue_module.Empty:
                    self._notice_dead_workers()
                    continue
                self._take(kind, worker, payload)
        except KeyboardInterrupt:
            self._signal(signal.SIGTERM)
            raise
        finally:
            self.stop.set()
            self._join()
        if self.errors:
            worker, message = min(self.errors.items())
            raise HarnessError(f"explore worker {worker} (seed {worker_seed(self.spec.seed, worker)}): {message}")
        return self._merged(time.monotonic() - self.started)

    def _take(self, kind: str, worker: int, payload: Any) -> None:
        if kind == "progress":
            self.latest[worker] = payload
            self.worker_progress(worker, payload)
            if payload.failures:
                self.stop.set()  # one failure is enough: the others stop, this one shrinks it
            self.progress(Progress(time.monotonic() - self.started, sum(p.examples for p in self.latest.values()),
                                   sum(p.failures for p in self.latest.values()), payload.faults,
                                   any(p.shrinking for p in self.latest.values()),
                                   any(p.classifying for p in self.latest.values())))
        elif kind == "result":
            self.results[worker] = payload
            if payload.failed:
                self.stop.set()
        else:  # "error" (its message) or "interrupted"
            self.errors[worker] = payload if kind == "error" else kind
            self.stop.set()

    def _notice_dead_workers(self) -> None:
        for w, p in enumerate(self.procs):
            if w not in self.results and w not in self.errors and p.exitcode is not None:
                with contextlib.suppress(queue_module.Empty):  # its last words may still be in the queue
                    self._take(*self.out.get(timeout=0.5))
                    return
                self.errors[w] = f"exited with code {p.exitcode} without a result (see its mesh's logs)"
                self.stop.set()

    def _signal(self, sig: int) -> None:
        for p in self.procs:
            if p.pid is not None and p.exitcode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p.pid, sig)

    def _join(self) -> None:
        deadline = time.monotonic() + STOP_GRACE_S
        for p in self.procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
        late = [p for p in self.procs if p.exitcode is None]
        if late:
            self._signal(signal.SIGTERM)  # it unwinds as on Ctrl-C; its services die with it at worst
            for p in late:
                p.join(timeout=10)

    def _merged(self, seconds: float) -> ExploreResult:
        results = [self.results[w] for w in sorted(self.results)]
        failed = sorted((r for r in results if r.failed), key=lambda r: r.first_failure_s or 0.0)
        found = failed[0] if failed else None
        firsts = [r.first_failure_s for r in results if r.first_failure_s is not None]
        return ExploreResult(
            seed=found.seed if found else self.spec.seed,
            examples=sum(r.examples for r in results),
            failing_examples=sum(r.failing_examples for r in results),
            seconds=seconds,
            first_failure_s=min(firsts) if firsts else None,
            journal=found.journal if found else None,
            journal_path=found.journal_path if found else None,
            flaky=bool(found and found.flaky),
        )
