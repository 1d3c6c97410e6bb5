"""Allure results for one scenario: steps for the baseline, each fault applied and reverted, the observations and the recovery; the pictures, the evidence, the journal, the timeline and the log tails attached.

    chaos fixture starts ── Recorder(mesh)     every journey observation of the test, timestamped
    test runs, chaos reverts, Recorder.close()
    teardown report    ── write(...)           steps + attachments into the open Allure test result

The plugin calls this module only when allure-pytest writes results (`--alluredir`), so a run
without it pays nothing. The step tree is built from values by `scenario_steps` (pure); `write`
hands it to Allure's reporter with the real start and stop times.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .blast import Cascade, service_chain
from .report_svg import timeline_svg
from .topology_svg import topology_svg
from .verdicts import Observation

if TYPE_CHECKING:
    from .chaos import Chaos
    from .contracts import ContractResult
    from .journal import Journal
    from .mesh import Mesh
    from .observe import Recovery

__all__ = ["MAX_OBSERVATION_STEPS", "Recorder", "Step", "scenario_steps", "write"]

MAX_OBSERVATION_STEPS = 40  # per group; a load of hundreds of requests is summarised beyond this
LOG_TAIL_LINES = 60
_NEVER_OK = ("hung", "wrong")


@dataclass(frozen=True)
class Step:
    """One Allure step: a name, when it ran (monotonic seconds), whether it passed, its sub-steps."""

    name: str
    start_s: float
    stop_s: float
    passed: bool = True
    children: tuple[Step, ...] = field(default=())


class Recorder:
    """Keeps every journey observation made while one test runs (the chaos keeps only the worst)."""

    def __init__(self, mesh: Mesh) -> None:
        self.observations: list[Observation] = []
        self.wall_minus_monotonic = time.time() - time.monotonic()
        self._unsubscribe = mesh.subscribe(lambda obs, body: self.observations.append(obs))

    def close(self) -> None:
        self._unsubscribe()


def scenario_steps(
    events: Iterable[Any],
    observations: Iterable[Observation],
    *,
    origin_s: float,
    baseline: Mapping[str, Observation],
    broken: Iterable[Observation] = (),
    recovery: Recovery | None = None,
) -> list[Step]:
    """Baseline, then faults and observations in the order they happened, then recovery (times are monotonic)."""
    broken_ids = {id(o) for o in broken}
    steps = [Step("baseline: every journey's steady state, measured before any fault", origin_s, origin_s, True, tuple(
        Step(f"{n}: {o.verdict} in {o.elapsed_ms:.0f} ms", origin_s, origin_s, o.verdict not in _NEVER_OK)
        for n, o in sorted(baseline.items())))]
    pending = sorted(observations, key=lambda o: o.at_s)
    active = 0
    for ev in sorted(events, key=lambda e: e.t_s):
        at = origin_s + ev.t_s
        before = [o for o in pending if o.at_s < at]
        pending = pending[len(before):]
        steps += _observed(before, active, broken_ids)
        where = [t for t in ev.targets if t not in ev.fault]
        name = f"+{ev.t_s:.3f}s {ev.action} {ev.fault}" + (f" on {', '.join(where)}" if where else "")
        steps.append(Step(name + (f" ({ev.detail})" if ev.detail else ""), at, at, ev.action in ("applied", "reverted")))
        active += {"applied": 1, "reverted": -1, "revert_failed": -1}.get(ev.action, 0)
    steps += _observed(pending, active, broken_ids)
    if recovery is not None:
        if recovery.recovered:
            name = f"recovery: every journey back to its baseline verdict {recovery.seconds:.3f}s after the last revert"
        else:
            name = f"recovery: not recovered after {recovery.seconds:.3f}s; still off: {', '.join(recovery.still_off)}"
        end = steps[-1].stop_s
        steps.append(Step(name, end, end, recovery.recovered))
    return steps


def _observed(obs: Sequence[Observation], active: int, broken_ids: set[int]) -> list[Step]:
    if not obs:
        return []
    when = f"while {active} fault{'s' if active != 1 else ''} active" if active > 0 else "with no fault active"
    kids = [Step(f"{o.journey}: {o.verdict}, {o.reason or f'{o.elapsed_ms:.0f} ms'}",
                 o.at_s, o.at_s + o.elapsed_ms / 1000, o.verdict not in _NEVER_OK and id(o) not in broken_ids)
            for o in obs]
    shown = kids[:MAX_OBSERVATION_STEPS]
    if len(kids) > len(shown):
        rest = kids[len(shown):]
        shown.append(Step(f"... and {len(rest)} more", rest[0].start_s, max(k.stop_s for k in rest),
                          all(k.passed for k in rest)))
    counts: dict[str, int] = {}
    for o in obs:
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
    summary = ", ".join(f"{v} x{n}" for v, n in sorted(counts.items()))
    return [Step(f"observed {len(obs)} journey run{'s' if len(obs) != 1 else ''} {when}: {summary}",
                 kids[0].start_s, max(k.stop_s for k in kids), all(k.passed for k in kids), tuple(shown))]


def write(reporter: Any, chaos: Chaos, recorder: Recorder, *, title: str, topology_path: str, runtime: str) -> None:
    """Add the scenario's steps and attachments to the Allure test result that `reporter` has open."""
    from allure_commons.types import AttachmentType

    test = reporter.get_test(None)
    if test is None:
        return
    steady = chaos.mesh.steady_state().observations()
    cascades = chaos.cascades()
    results = chaos.contract_results()
    broken = [chaos.during[n] for n, r in results.items() if not r.ok and n in chaos.during]
    for step in scenario_steps(chaos.timeline, recorder.observations, origin_s=chaos.t0, baseline=steady,
                               broken=broken, recovery=chaos.recovery):
        _emit(reporter, test.uuid, step, recorder.wall_minus_monotonic)
    radius = chaos.radius()
    topology = chaos.mesh.topology

    def attach(body: str, name: str, kind: Any) -> None:
        reporter.attach_data(_uuid(), body, name=name, attachment_type=kind, parent_uuid=test.uuid)

    attach(timeline_svg(topology, chaos.timeline, recorder.observations, origin_s=chaos.t0, baseline=steady,
                        inside=radius.inside, broken={o.journey for o in broken}, cascades={c.journey for c in cascades},
                        title=title),
           "fault timeline", AttachmentType.SVG)
    verdicts = {r.journey: (r.baseline.verdict if r.baseline else None, r.during.verdict if r.during else None)
                for r in chaos.evidence_rows(results=results, cascades=cascades)}
    edges, services = chaos.faulted()
    attach(topology_svg(topology, edges=edges, services=services, verdicts=verdicts,
                        cascades={c.journey: c.route for c in cascades},
                        title=f"blast radius: {', '.join(radius.targets) or 'no fault'}"),
           "topology and blast radius", AttachmentType.SVG)
    attach(chaos.evidence(results=results, cascades=cascades, logs=False), "evidence", AttachmentType.TEXT)
    message = test.statusDetails.message if test.statusDetails and test.statusDetails.message else ""
    journal = _journal(chaos, results, topology_path=topology_path, runtime=runtime, message=message)
    attach(json.dumps(journal.to_dict(), indent=1), "journal.json", AttachmentType.JSON)
    attach(json.dumps(_timeline_json(chaos, recorder.observations, cascades), indent=1), "timeline.json",
           AttachmentType.JSON)
    for service in chaos.touched_services():
        attach("\n".join(chaos.mesh.logs(service, LOG_TAIL_LINES)), f"log tail: {service}", AttachmentType.TEXT)


def _journal(chaos: Chaos, results: Mapping[str, ContractResult], *, topology_path: str, runtime: str,
             message: str) -> Journal:
    """The scenario as a journal: its faults as inject/heal steps, the contracts under them, the recovery.

    `cascade replay` re-runs the steps and compares; a scenario that interleaves several faults
    gets more checks in the replay (one per inject) than the one contracts check recorded here.
    """
    from .journal import Journal
    from .trial import Check, Step

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
    return Journal(topo.name, topo.digest(), topology_path, str(mesh.mode), runtime, mesh.seed,
                   max((e.t_s for e in chaos.timeline), default=0.0), message, tuple(steps), tuple(checks))


def _timeline_json(chaos: Chaos, observations: Sequence[Observation], cascades: Sequence[Cascade]) -> dict[str, Any]:
    """The faults and observations of the test, times in seconds since the chaos started."""
    return {
        "topology": chaos.mesh.topology.name,
        "seed": chaos.mesh.seed,
        "events": [{"t_s": round(e.t_s, 4), "action": e.action, "fault": e.fault, "kind": e.kind,
                    "targets": list(e.targets), "detail": e.detail} for e in chaos.timeline],
        "observations": [{**o.to_dict(), "at_s": round(o.at_s - chaos.t0, 4)} for o in observations],
        "cascades": [{"journey": c.journey, "route": service_chain(c.route)} for c in cascades],
    }


def _emit(reporter: Any, parent: str, step: Step, offset: float) -> None:
    from allure_commons.model2 import Status, TestStepResult

    uuid = _uuid()
    reporter.start_step(parent, uuid, TestStepResult(name=step.name, start=_ms(step.start_s, offset)))
    for child in step.children:
        _emit(reporter, uuid, child, offset)
    reporter.stop_step(uuid, stop=_ms(step.stop_s, offset), status=Status.PASSED if step.passed else Status.FAILED)


def _ms(monotonic_s: float, offset: float) -> int:
    return int(round((monotonic_s + offset) * 1000))


def _uuid() -> str:
    from allure_commons.utils import uuid4

    return str(uuid4())
