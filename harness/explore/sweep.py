"""Systematic sweep: every network fault kind on every edge alone, then the pairs the singles do not answer.

    singles   one representative fault per kind (scaled to the journeys' budgets) on every edge
    pairs     two singles at once, unless the singles already imply the outcome (rules below)
    each case mesh.reset(), inject, Chaos.sweep() observes every journey once (a broken contract is
              confirmed by the journey run alone), judge the contracts, heal (Chaos first lets delayed data
              drain, see Chaos._drain), and every journey must be back at its baseline within RECOVERY_S

A pair {a, b} is skipped when its outcome is implied by the singles:
  1. their blast radii share no journey: each journey sees at most one of the two faults and is
     judged by that fault's contract alone, so the pair is the two singles side by side;
  2. either single already broke a contract: that single is the minimal reproduction, and a pair
     containing it only repeats the finding with a larger cause;
  3. an equivalent pair was run: two faults on one edge whose singles gave every journey the same
     verdict are interchangeable, so only the first of each such class is paired.

`unfaulted_edges` lists the edges that neither the scenarios (edge names and Partition targets
found in their source) nor the sweep ever faulted.
"""

from __future__ import annotations

import itertools
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

from ..judge.blast import blast_radius
from ..chaos import Chaos
from ..judge.contracts import confirm_alone, contract_for, frozen_by
from ..errors import InvalidFault, UsageError
from ..faults.base import FAULT_KINDS, Fault, FaultKind, kinds_in_family
from ..observe.journeys import wait_for_recovery
from .strategies import EDGE_FAULT_KINDS, horizon_ms
from ..topology import Topology
from .trial import RECOVERY_S

if TYPE_CHECKING:
    from ..mesh import Mesh

__all__ = ["Case", "SweepReport", "pairs_to_run", "representatives", "run_case", "sweep", "unfaulted_edges"]


def representatives(topology: Topology, edge: str, kinds: Sequence[str] | None = None) -> tuple[Fault, ...]:
    """One fault per kind on `edge` (default: every network kind that has one), each strong enough to matter.

    Each kind says which (`FaultKind.representative`), scaled to the largest journey budget.
    """
    top = horizon_ms(topology)
    chosen = sweep_kinds() if kinds is None else tuple(kinds)
    made = []
    for kind in chosen:
        cls = FAULT_KINDS.get(kind)
        fault = cls.representative(edge, top) if cls is not None else None  # type: ignore[attr-defined]
        if fault is None:
            raise UsageError(f"sweep: kind {kind!r} has no representative fault on an edge; kinds are: "
                             f"{', '.join(sweep_kinds())}")
        if kinds is None:
            try:
                fault.validate(topology)
            except InvalidFault:
                continue  # not for this edge (an HTTP fault on a TCP edge); asked for by name, it is refused
        made.append(fault)
    return tuple(made)


SWEPT_FAMILIES = ("network", "http")


def sweep_kinds() -> tuple[str, ...]:
    """The kinds the sweep tries on every edge they apply to: the network ones in draw order, then the HTTP ones."""
    return tuple(k for family in SWEPT_FAMILIES for k in kinds_in_family(family, EDGE_FAULT_KINDS)
                 if getattr(FAULT_KINDS[k], "representative").__func__ is not FaultKind.representative.__func__)


@dataclass(frozen=True)
class Case:
    """One sweep case: its faults, every journey's verdict, and the contracts it broke."""

    faults: tuple[Fault, ...]
    verdicts: Mapping[str, str]
    broken: tuple[str, ...]
    seconds: float

    @property
    def label(self) -> str:
        return " + ".join(f.describe() for f in self.faults)


@dataclass(frozen=True)
class SweepReport:
    """Every case run, how many pairs the rules skipped, and the edges nothing faulted."""

    singles: tuple[Case, ...]
    pairs: tuple[Case, ...]
    skipped_pairs: int
    seconds: float
    unfaulted: tuple[str, ...]

    def breaking(self) -> tuple[Case, ...]:
        return tuple(c for c in self.singles + self.pairs if c.broken)


def run_case(mesh: Mesh, faults: Sequence[Fault], *, recovery_s: float = RECOVERY_S) -> Case:
    """Inject `faults`, observe every journey once, judge, heal, and check recovery."""
    started = time.monotonic()
    mesh.reset()
    chaos = Chaos(mesh)
    topo = mesh.topology
    try:
        with chaos.inject(*faults):
            seen = chaos.sweep()
            radius = chaos.radius()
            contracts = {n: contract_for(n, topo, radius=radius, frozen=frozen_by(faults)) for n in topo.journeys}
            results = confirm_alone(seen, contracts, mesh.journey)
    finally:
        chaos.close()
    broken = [r.message for n, r in sorted(results.items()) if not r.ok]
    rec = wait_for_recovery(mesh, mesh.steady_state().verdicts(), within_s=recovery_s)
    if rec.recovered:
        mesh.dirty = False  # at baseline already: the next reset need not settle
    else:
        broken.append(f"not recovered within {recovery_s:.1f} s: {', '.join(rec.still_off)}")
    return Case(tuple(faults), {n: o.verdict for n, o in seen.items()}, tuple(broken), time.monotonic() - started)


def pairs_to_run(topology: Topology, singles: Sequence[Case]) -> tuple[list[tuple[Any, Any]], int]:
    """The pairs of single faults whose outcome the singles do not imply (rules in the module docstring), and how many were skipped."""
    kept: list[Case] = []
    classes: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
    for c in singles:
        (fault,) = c.faults
        key = (fault.target, tuple(sorted(c.verdicts.items())))
        if not c.broken and key not in classes:  # rules 2 and 3
            classes.add(key)
            kept.append(c)
    inside = {id(c): blast_radius(topology, edges=c.faults[0].edges(topology)).inside for c in kept}
    run = [(a.faults[0], b.faults[0]) for a, b in itertools.combinations(kept, 2)
           if inside[id(a)] & inside[id(b)]]  # rule 1
    total = len(singles) * (len(singles) - 1) // 2
    return run, total - len(run)


def unfaulted_edges(topology: Topology, faulted: Iterable[str], scenarios_dir: Path | None = None) -> tuple[str, ...]:
    """Edges of `topology` neither in `faulted` nor named (or partitioned) in any scenarios_dir/test_*.py."""
    seen = set(faulted)
    if scenarios_dir is not None:
        for path in sorted(scenarios_dir.glob("test_*.py")):
            text = path.read_text()
            for a, b in re.findall(r"[\"']\s*([\w-]+)\s*->\s*([\w-]+)\s*[\"']", text):
                seen.add(f"{a}->{b}")
            for svc in re.findall(r"Partition\(\s*[\"']([\w-]+)[\"']", text):
                seen.update(e.name for e in topology.edges_of(svc))
    return tuple(sorted(set(topology.edges) - seen))


def sweep(mesh: Mesh, *, kinds: Sequence[str] | None = None, pairs: bool = True,
          scenarios_dir: Path | None = None, progress: Callable[[Case], None] = lambda _c: None) -> SweepReport:
    """Every kind on every edge, then the pairs that are not implied; the report of it all."""
    started = time.monotonic()
    topo = mesh.topology
    singles = []
    engine = getattr(mesh.runtime, "engine", None)
    served = set(engine.edges) if engine is not None else set()
    for edge in sorted(topo.edges):
        for fault in representatives(topo, edge, kinds):
            if getattr(fault, "family", "") == "http" and edge not in served and kinds is None:
                continue  # this runtime runs no HTTP engine there
            singles.append(run_case(mesh, [fault]))
            progress(singles[-1])
    ran: list[Case] = []
    skipped = len(singles) * (len(singles) - 1) // 2
    if pairs:
        todo, skipped = pairs_to_run(topo, singles)
        for a, b in todo:
            ran.append(run_case(mesh, [a, b]))
            progress(ran[-1])
    swept = {f.target for c in singles for f in c.faults}
    return SweepReport(tuple(singles), tuple(ran), skipped, time.monotonic() - started,
                       unfaulted_edges(topo, swept, scenarios_dir))
