"""Stateful exploration: Hypothesis injects and heals faults on one live mesh, and shrinks any failure to its minimal cascade.

    rules        inject(fault)   a fault from strategies.faults(), unless one like it is active
                 heal(which)     revert one active fault
    invariants   every journey keeps its contract for the faults injected so far (never hung, never wrong)
                 every journey is back at its baseline verdict once all faults are healed
    example      a trial (trial.py): starts from mesh.reset(), ends healing what is left

The mesh is started once by the caller; each example only resets it. Hypothesis runs the
examples in batches of BATCH, batch i seeded with `seed + i`, until the budget is spent or a
failure is found and shrunk; its example database lives in `.cascade/hypothesis/<topology>-<mode>/`
so the next run replays remembered failures first. The shrunk failure is written as a journal.
"""

from __future__ import annotations

import contextlib
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from hypothesis import HealthCheck, Phase, Verbosity, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.errors import Flaky
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from ..errors import HarnessError, UsageError
from .journal import JOURNAL_DIR, Journal
from .minimize import FLAKY, confirm_and_minimize, rerun_at_rest
from .strategies import faults
from .trial import Check, Trial, explore_config

if TYPE_CHECKING:
    from ..faults.base import Fault
    from ..mesh import Mesh

__all__ = ["DATABASE_DIR", "ExploreResult", "Explorer", "Progress", "parse_budget"]

DATABASE_DIR = Path(".cascade") / "hypothesis"
BATCH = 5  # examples per Hypothesis run, batch i seeded with seed + i
MAX_STEPS = 4  # inject/heal steps per example: a cascade worth reporting needs few faults
MAX_ACTIVE = 3
_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_budget(text: str) -> float:
    """Seconds from "30s", "5m", "1h" or a bare number of seconds; UsageError naming the bad value."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", text or "")
    if not m or float(m.group(1)) <= 0:
        raise UsageError(f"--budget {text}: use 30s, 5m")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


@dataclass(frozen=True)
class Progress:
    """Where an exploration stands: for the live progress line."""

    seconds: float
    examples: int
    failures: int
    faults: tuple[str, ...]
    shrinking: bool
    classifying: bool = False  # rerunning the shrunk failure: reproducible or flaky, then 1-minimal


@dataclass(frozen=True)
class ExploreResult:
    """How an exploration ended: examples run, the shrunk failure and its journal, if any."""

    seed: int
    examples: int
    failing_examples: int
    seconds: float
    first_failure_s: float | None
    journal: Journal | None
    journal_path: Path | None
    flaky: bool = False  # it failed once and passed when rerun with the same faults (minimize.py)

    @property
    def classification(self) -> str:
        """reproducible, flaky or unconfirmed; "" where nothing failed."""
        return self.journal.classification if self.journal is not None else ""

    @property
    def failed(self) -> bool:
        return self.journal is not None


class _Abort(BaseException):
    """A harness error inside an example: ends the exploration instead of being shrunk as a failure."""

    def __init__(self, error: HarnessError) -> None:
        super().__init__(str(error))
        self.error = error


class _OutOfBudget(BaseException):
    """The budget ran out between two examples, with no failure being shrunk: end the run there."""


class Explorer:
    """Explores one started mesh for a time budget; `run()` returns what it found."""

    def __init__(self, mesh: Mesh, *, seed: int | None = None, budget_s: float, topology_path: str = "",
                 database_dir: Path = DATABASE_DIR, journal_dir: Path = JOURNAL_DIR, max_steps: int = MAX_STEPS,
                 process_faults: bool = True, config_faults: bool = True,
                 progress: Callable[[Progress], None] = lambda _p: None,
                 clock: Callable[[], float] = time.monotonic, stop: Callable[[], bool] = lambda: False) -> None:
        if budget_s <= 0 or max_steps < 1:
            raise UsageError(f"explore needs budget_s > 0 and max_steps >= 1, got {budget_s} and {max_steps}")
        self.mesh, self.budget_s, self.max_steps = mesh, budget_s, max_steps
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        self.topology_path, self.journal_dir, self.progress, self.clock = topology_path, journal_dir, progress, clock
        self.stop = stop  # asked before each example, like the budget: another worker found a failure
        topo = mesh.topology
        self.database = DirectoryBasedExampleDatabase(database_dir / f"{topo.name}-{topo.digest()}-{_slug(str(mesh.mode))}")
        documents = config_contents(mesh) if config_faults else {}
        engine = getattr(mesh.runtime, "engine", None)  # HTTP faults on the edges the engine serves, if any
        self.faults = faults(topo, process=process_faults, config_documents=documents,
                             http_edges=tuple(engine.edges) if engine is not None else ())
        self.examples = self.failing = 0
        self.first_failure_s: float | None = None
        self.last_failure: Journal | None = None
        self._trial: Trial | None = None

    # -- the run -----------------------------------------------------------------------

    def run(self) -> ExploreResult:
        """Batches of examples until the budget is spent or a failure is found (and shrunk)."""
        self.started = self.clock()
        machine, batch = _machine(self), 0
        with explore_config(self.mesh):
            while self.clock() - self.started < self.budget_s:
                try:
                    run_state_machine_as_test(hypothesis_seed(self.seed + batch)(machine), settings=self._settings())
                except _Abort as abort:
                    raise abort.error from None
                except _OutOfBudget:
                    break
                except (Flaky, AssertionError):
                    # The failure is in self.last_failure, recorded by the example that raised it.
                    # Hypothesis's Flaky (its final replay of the shrunk example passed) decides
                    # nothing: the rerun below does, on the mesh at rest.
                    pass
                if self.last_failure is not None:
                    break
                batch += 1
        journal = self.last_failure
        if journal is not None:
            self._report(classifying=True)
            journal = confirm_and_minimize(journal, lambda steps: rerun_at_rest(self.mesh, steps))
        path = journal.write(self.journal_dir) if journal else None
        return ExploreResult(self.seed, self.examples, self.failing, self.clock() - self.started, self.first_failure_s,
                             journal, path, bool(journal and journal.classification == FLAKY))

    def _settings(self) -> settings:
        return settings(max_examples=BATCH, stateful_step_count=self.max_steps, deadline=None, database=self.database,
                        suppress_health_check=list(HealthCheck), print_blob=False, report_multiple_bugs=False,
                        verbosity=Verbosity.quiet,
                        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink))

    # -- called by the state machine -----------------------------------------------------

    def begin(self) -> Trial:
        # The budget is checked before each example, not only between batches: a batch can take
        # seconds. A failure found is always shrunk to the end, whatever the budget says.
        if self.failing == 0 and (self.clock() - self.started >= self.budget_s or self.stop()):
            raise _OutOfBudget
        self.examples += 1
        self._trial = self._guard(lambda: Trial(self.mesh))
        self._report()
        return self._trial

    def act(self, action: Callable[[], Check | None]) -> None:
        self._guard(action)
        self._report()

    def assert_kept(self, trial: Trial, kind: str) -> None:
        """Raise AssertionError (Hypothesis's failure) if the newest check of `kind` broke a contract."""
        last = trial.checks[-1] if trial.checks else None
        if last is not None and last.kind == kind and last.broken:
            self._fail(trial)

    def end(self, trial: Trial) -> None:
        """Heal what is left and check recovery; after a failure only revert."""
        if trial.broken:
            self._guard(trial.abandon)
            return
        self._guard(trial.close)
        if trial.broken:
            self._fail(trial)

    def _fail(self, trial: Trial) -> None:
        self.failing += 1
        if self.first_failure_s is None:
            self.first_failure_s = self.clock() - self.started
        topo, mesh = self.mesh.topology, self.mesh
        # Hypothesis replays the shrunk example last, so the last failure recorded is the minimal one.
        self.last_failure = Journal(topology_name=topo.name, topology_digest=topo.digest(),
                                    topology_path=self.topology_path, mode=str(mesh.mode), runtime=mesh.runtime.name,
                                    seed=self.seed, found_after_s=round(self.first_failure_s, 3),
                                    message="\n".join(trial.broken), steps=tuple(trial.steps),
                                    checks=tuple(trial.checks))
        raise AssertionError("\n".join(trial.broken))

    def _guard(self, action: Callable[[], Any]) -> Any:
        try:
            return action()
        except HarnessError as exc:
            if self._trial is not None:
                # The first error is the one reported; a revert failing after it says nothing new.
                with contextlib.suppress(HarnessError):
                    self._trial.abandon()
            raise _Abort(exc) from None

    def _report(self, *, classifying: bool = False) -> None:
        active = self._trial.active if self._trial is not None and not classifying else ()
        self.progress(Progress(self.clock() - self.started, self.examples, self.failing,
                               tuple(f.describe() for f in active), self.failing > 0, classifying))


def config_contents(mesh: Mesh) -> dict[str, Any]:
    """Each config source's current content, what bad pushes are drawn from: its document, or its text if it has none."""
    out: dict[str, Any] = {}
    for name in sorted(mesh.topology.config_sources):
        cur = mesh.config(name).current()
        out[name] = cur.document if isinstance(cur.document, dict) else cur.raw
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "_", text)


def _machine(explorer: Explorer) -> type[RuleBasedStateMachine]:
    """The rule-based state machine over `explorer`'s mesh and fault strategy."""

    class Exploration(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.trial = explorer.begin()

        @precondition(lambda self: len(self.trial.active) < MAX_ACTIVE)
        @rule(fault=explorer.faults)
        def inject(self, fault: Fault) -> None:
            if self.trial.can_inject(fault):
                explorer.act(lambda: self.trial.inject(fault))

        @precondition(lambda self: bool(self.trial.active))
        @rule(which=st.integers(min_value=0, max_value=MAX_ACTIVE - 1))
        def heal(self, which: int) -> None:
            explorer.act(lambda: self.trial.heal(which % len(self.trial.active)))

        @invariant()
        def every_journey_keeps_its_contract(self) -> None:
            explorer.assert_kept(self.trial, "contracts")

        @invariant()
        def every_journey_recovers_once_all_faults_heal(self) -> None:
            explorer.assert_kept(self.trial, "recovery")

        def teardown(self) -> None:
            explorer.end(self.trial)

    return Exploration
