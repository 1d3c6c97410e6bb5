"""One trial on a live mesh: inject and heal faults step by step, judge every journey after each injection, then recovery.

    Trial(mesh) ── reset to baseline
      inject(f) ── check(): every journey, in parallel, against its contract for the faults so far
      heal(i)   ── once nothing is active any more, check(): every journey back to its baseline verdict
      close()   ── heal what is left and check recovery

Exploration (explore.py) drives a trial from Hypothesis's rules; `cascade replay` drives one
from a journal's steps; both record the same `Step`s and `Check`s, so their verdicts compare.

Why contracts cover every fault injected since the mesh was last at baseline, not only the
active ones: a healed fault leaves state behind for a while (an open breaker stays open for
its reset timeout), and a journey still degraded by it is not a cascade of the faults that
remain.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shlex
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from ..chaos import Chaos
from ..config import await_applied
from ..judge.contracts import confirm_alone, contract_for, frozen_by
from ..errors import InvalidFault, MeshError
from ..faults import apply_patch, fault_from_spec, parse_fault
from ..observe.journeys import run_journey, run_journeys, wait_for_recovery
from .strategies import fault_key

if TYPE_CHECKING:
    from ..faults.base import Fault
    from ..mesh import Mesh

__all__ = ["Check", "RECOVERY_S", "Step", "Trial", "explore_config", "fault_line", "fault_spec", "run_steps", "spec_fault"]

RECOVERY_S = 5.0  # how long after the last heal every journey may take to be back at its baseline verdict
GRACE_S = 0.1  # how long past its budget a journey is awaited: enough to call it hung, no more
RECOVERY_POLL_S = 0.02  # between two rounds of the recovery check: most of a recovery is waiting for a breaker
FROZEN_WAIT_S = 0.15  # how long a journey whose entry service is paused is awaited (no answer can come)
_log = logging.getLogger("cascade")


@contextlib.contextmanager
def explore_config(mesh: Mesh) -> Iterator[int | None]:
    """The topology's [mesh] explore_config in force for the block, the config before it restored after.

    An example spends most of its time waiting for breakers to close after a heal, so a topology
    can declare shorter clocks for exploring (the bundled mesh: breakers reset after 200 ms, not
    1 s). Pushed as a patch of the current document; every consumer runs it before the block
    starts, and the version before it again once the block ends. Yields the pushed version, or
    None when the topology declares nothing.
    """
    patch = mesh.topology.explore_config
    if not patch:
        yield None
        return
    client = mesh.config()
    before = client.current()
    if not isinstance(before.document, dict):
        raise MeshError(f"mesh.explore_config patches the current config, but version {before.version} is not "
                        "a JSON object; push a valid document first")
    version = client.push(json.dumps(apply_patch(before.document, patch)), note="cascade: explore_config")
    try:
        _await_config(mesh, version)
        yield version
    finally:
        _await_config(mesh, client.rollback(before.version, expect_raw=before.raw))


def _await_config(mesh: Mesh, version: int) -> None:
    """Block until every consumer runs `version` (MeshError if one rejects it); where one cannot say, the declared wait."""
    await_applied(mesh.config(), version, within_s=mesh.topology.config_apply_s, why="mesh.explore_config",
                  log=_log.warning)


def fault_spec(fault: Fault) -> dict[str, Any]:
    """The JSON form of a fault in a journal: {"kind", "target", "params"}."""
    return {"kind": fault.kind, "target": fault.target, "params": fault.params()}


def spec_fault(spec: Mapping[str, Any]) -> Any:
    """The fault a journal's {"kind", "target", "params"} describes."""
    return fault_from_spec(spec["kind"], spec["target"], **spec.get("params", {}))


def fault_line(fault: Fault) -> str:
    """The fault as one `parse_fault` line ("latency 'timeline->media' ms=800 jitter_ms=0 direction=downstream")."""
    words = [fault.kind, fault.target]
    for name, value in fault.params().items():
        words.append(f"{name}={value if isinstance(value, str) and not _is_json(value) else json.dumps(value)}")
    line = shlex.join(words)
    if parse_fault(line) != fault:  # a journal and an emitted scenario must replay exactly this fault
        raise InvalidFault(f"{fault.describe()} cannot be written as one fault line; got {line!r}")
    return line


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class Step:
    """One action of a trial: inject a fault, or heal one injected earlier."""

    action: str  # inject | heal
    fault: Fault

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "fault": fault_spec(self.fault), "line": fault_line(self.fault)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Step:
        return cls(data["action"], spec_fault(data["fault"]))


@dataclass(frozen=True)
class Check:
    """What the journeys showed after step `after_step`: contracts under faults, or recovery after all healed."""

    after_step: int
    kind: str  # contracts | recovery
    faults: tuple[str, ...]
    verdicts: Mapping[str, str]
    broken: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"after_step": self.after_step, "kind": self.kind, "faults": list(self.faults),
                "verdicts": dict(sorted(self.verdicts.items())), "broken": list(self.broken)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Check:
        return cls(int(data["after_step"]), data["kind"], tuple(data["faults"]), dict(data["verdicts"]),
                   tuple(data.get("broken", ())))


@dataclass
class Trial:
    """Faults injected and healed on one mesh, starting from its baseline, with every check recorded."""

    mesh: Mesh
    recovery_s: float = RECOVERY_S
    steps: list[Step] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mesh.reset()
        self.baseline = self.mesh.steady_state().verdicts()
        self.chaos = Chaos(self.mesh, observe=False)
        self.started = time.monotonic()
        self._open: list[tuple[Any, AbstractContextManager[Any]]] = []
        self._since_baseline: list[Any] = []  # every fault injected since the mesh was last at baseline

    @property
    def active(self) -> tuple[Fault, ...]:
        return tuple(f for f, _ in self._open)

    @property
    def broken(self) -> tuple[str, ...]:
        """Every contract broken so far, in order."""
        return tuple(b for c in self.checks for b in c.broken)

    def can_inject(self, fault: Fault) -> bool:
        """False if an active fault holds the same toxic kind on the edge, or the same service (`fault_key`)."""
        config = self.mesh.topology.config_service
        topo = self.mesh.topology
        return fault_key(fault, config, topo) not in {fault_key(f, config, topo) for f in self.active}

    def inject(self, fault: Fault) -> Check:
        """Apply `fault` (verified) and judge every journey against its contract."""
        cm = self.chaos.inject(fault)
        cm.__enter__()  # held open until heal(): faults here end in any order, not a with-block's
        self._open.append((fault, cm))
        self._since_baseline.append(fault)
        self.steps.append(Step("inject", fault))
        return self._judge()

    def heal(self, index: int) -> Check | None:
        """Revert the active fault at `index`; once none is left, check that every journey recovers."""
        fault, cm = self._open.pop(index)
        cm.__exit__(None, None, None)  # Chaos drains a delaying toxic first if a caller gave up on it
        self.steps.append(Step("heal", fault))
        return None if self._open else self._recover()

    def close(self) -> Check | None:
        """Heal whatever is still active (oldest first) and check recovery; the trial's last check."""
        check_ = None
        while self._open:
            check_ = self.heal(0)
        self.chaos.close()
        return check_

    def abandon(self) -> None:
        """Revert everything without judging (after a failure, or on an interrupt)."""
        try:
            while self._open:
                self._open.pop()[1].__exit__(None, None, None)
        finally:
            self.chaos.close()

    # -- judging ---------------------------------------------------------------------

    def _targets(self) -> tuple[set[str], set[str]]:
        edges: set[str] = set()
        services: set[str] = set()
        for f in self._since_baseline:
            for t in self.chaos.targets(f):
                (edges if "->" in t else services).add(t)
        return edges, services

    def _judge(self) -> Check:
        """Every journey at once; a broken contract counts only if it holds again when run alone."""
        topo = self.mesh.topology
        edges, services = self._targets()
        frozen = frozen_by(self.active)
        contracts = {n: contract_for(n, topo, edges=edges, services=services, frozen=frozen) for n in topo.journeys}
        # A stopped entry service cannot answer (Pause verified the stop): not worth its whole budget.
        stuck = [n for n in topo.journeys if contracts[n].frozen_entry]
        with ThreadPoolExecutor(max_workers=1) as pool:
            frozen_seen = pool.submit(run_journeys, self.mesh, stuck, wait_s=FROZEN_WAIT_S)
            seen = run_journeys(self.mesh, [n for n in topo.journeys if n not in stuck], grace_s=GRACE_S)
            seen.update(frozen_seen.result())
        results = confirm_alone(seen, contracts, lambda n: run_journey(self.mesh, n, grace_s=GRACE_S))
        return self._record("contracts", {n: o.verdict for n, o in seen.items()},
                            tuple(r.message for n, r in sorted(results.items()) if not r.ok))

    def _recover(self) -> Check:
        rec = wait_for_recovery(self.mesh, self.baseline, within_s=self.recovery_s, interval_s=RECOVERY_POLL_S)
        broken = () if rec.recovered else (
            f"not recovered within {self.recovery_s:.1f} s of the last heal: "
            + ", ".join(f"{n} {rec.last[n].verdict} ({rec.last[n].reason})" for n in rec.still_off),)
        if rec.recovered:
            self._since_baseline.clear()
            self.mesh.dirty = False  # at baseline: the next reset need not wait for the mesh to settle
        else:
            self.mesh.unsettled = True  # it waited already: the next reset starts from fresh processes
        return self._record("recovery", {n: o.verdict for n, o in rec.last.items()}, broken)

    def _record(self, kind: str, verdicts: dict[str, str], broken: tuple[str, ...]) -> Check:
        c = Check(len(self.steps) - 1, kind, tuple(f.describe() for f in self.active), verdicts, broken)
        self.checks.append(c)
        return c


def run_steps(mesh: Mesh, steps: Sequence[Step]) -> Trial:
    """Run `steps` in order on `mesh` from its baseline, then heal what is left: the trial with every check.

    Like an exploration, it stops at the first broken contract (reverting what is active), so
    a replay's checks line up with the journal's; and like one, it runs under the topology's
    explore_config.
    """
    with explore_config(mesh):
        trial = Trial(mesh)
        try:
            for step in steps:
                if step.action == "inject":
                    trial.inject(step.fault)
                else:
                    trial.heal(trial.active.index(step.fault))
                if trial.broken:
                    trial.abandon()
                    return trial
            trial.close()
        except BaseException:
            trial.abandon()
            raise
    return trial
