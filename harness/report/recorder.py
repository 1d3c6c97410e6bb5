"""The format-neutral record of one scenario: every observation, the journal and the timeline, for any reporter.

    chaos fixture starts ── Recorder(mesh)        every journey observation of the test, timestamped
    test runs, chaos reverts, Recorder.close()
    a reporter           ── scenario_journal(...), timeline_json(...), chaos.evidence(...), steps.py's step tree

Nothing here knows a report format; reporters (base.py) turn these values into one.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..judge.blast import Cascade, service_chain
from ..judge.verdicts import Observation

if TYPE_CHECKING:
    from ..chaos import Chaos
    from ..judge.contracts import ContractResult
    from ..explore.journal import Journal
    from ..mesh import Mesh

__all__ = ["Recorder", "scenario_journal", "timeline_json"]


class Recorder:
    """Keeps every journey observation made while one test runs (the chaos keeps only the worst)."""

    def __init__(self, mesh: Mesh) -> None:
        self.observations: list[Observation] = []
        self.wall_minus_monotonic = time.time() - time.monotonic()
        self._unsubscribe = mesh.subscribe(lambda obs, body: self.observations.append(obs))

    def close(self) -> None:
        self._unsubscribe()


def scenario_journal(chaos: Chaos, results: Mapping[str, ContractResult], *, topology_path: str, runtime: str,
                     message: str) -> Journal:
    """The scenario as a journal: its faults as inject/heal steps, the contracts under them, the recovery.

    `cascade replay` re-runs the steps and compares; a scenario that interleaves several faults
    gets more checks in the replay (one per inject) than the one contracts check recorded here.
    """
    from ..explore.journal import Journal
    from ..explore.trial import Check, Step

    steps = [Step("inject" if e.action == "applied" else "heal", e.value) for e in chaos.timeline
             if e.action in ("applied", "reverted") and e.value is not None]
    checks = []
    injects = [i for i, s in enumerate(steps) if s.action == "inject"]
    if injects and chaos.during:
        active = tuple(e.fault for e in chaos.timeline if e.action == "applied")
        checks.append(Check(injects[-1], "contracts", active, {n: o.verdict for n, o in chaos.during.items()},
                            tuple(r.message for _, r in sorted(results.items()) if not r.ok)))
    rec = chaos.recovery
    if rec is not None and steps:
        checks.append(Check(len(steps) - 1, "recovery", (), {n: o.verdict for n, o in rec.last.items()},
                            () if rec.recovered else (f"not recovered; still off: {', '.join(rec.still_off)}",)))
    topo, mesh = chaos.mesh.topology, chaos.mesh
    return Journal(topology_name=topo.name, topology_digest=topo.digest(), topology_path=topology_path,
                   mode=str(mesh.mode), runtime=runtime, seed=mesh.seed,
                   found_after_s=max((e.t_s for e in chaos.timeline), default=0.0), message=message,
                   steps=tuple(steps), checks=tuple(checks))


def timeline_json(chaos: Chaos, observations: Sequence[Observation], cascades: Sequence[Cascade]) -> dict[str, Any]:
    """The faults and observations of the test, times in seconds since the chaos started."""
    return {
        "topology": chaos.mesh.topology.name,
        "seed": chaos.mesh.seed,
        "events": [{"t_s": round(e.t_s, 4), "action": e.action, "fault": e.fault, "kind": e.kind,
                    "targets": list(e.targets), "detail": e.detail} for e in chaos.timeline],
        "observations": [{**o.to_dict(), "at_s": round(o.at_s - chaos.t0, 4)} for o in observations],
        "cascades": [{"journey": c.journey, "route": service_chain(c.route)} for c in cascades],
    }
