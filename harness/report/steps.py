"""A scenario as a tree of timed steps (pure): the baseline, each fault applied and reverted, the observations, the recovery.

Built from the recorder's values; Allure (allure.py) emits it as its steps, and any other
format that shows a scenario step by step may use it too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from ..judge.verdicts import Observation

if TYPE_CHECKING:
    from ..observe.journeys import Recovery

__all__ = ["MAX_OBSERVATION_STEPS", "ReportStep", "scenario_steps"]

MAX_OBSERVATION_STEPS = 40  # per group; a load of hundreds of requests is summarised beyond this
_NEVER_OK = ("hung", "wrong")


@dataclass(frozen=True)
class ReportStep:
    """One node of a scenario's step tree: a name, when it ran (monotonic seconds), whether it passed, its sub-steps."""

    name: str
    start_s: float
    stop_s: float
    passed: bool = True
    children: tuple[ReportStep, ...] = field(default=())


def scenario_steps(
    events: Iterable[Any],
    observations: Iterable[Observation],
    *,
    origin_s: float,
    baseline: Mapping[str, Observation],
    broken: Iterable[Observation] = (),
    recovery: Recovery | None = None,
) -> list[ReportStep]:
    """Baseline, then faults and observations in the order they happened, then recovery (times are monotonic)."""
    broken_ids = {id(o) for o in broken}
    steps = [ReportStep("baseline: every journey's steady state, measured before any fault", origin_s, origin_s, True, tuple(
        ReportStep(f"{n}: {o.verdict} in {o.elapsed_ms:.0f} ms", origin_s, origin_s, o.verdict not in _NEVER_OK)
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
        steps.append(ReportStep(name + (f" ({ev.detail})" if ev.detail else ""), at, at, ev.action in ("applied", "reverted")))
        active += {"applied": 1, "reverted": -1, "revert_failed": -1}.get(ev.action, 0)
    steps += _observed(pending, active, broken_ids)
    if recovery is not None:
        if recovery.recovered:
            name = f"recovery: every journey back to its baseline verdict {recovery.seconds:.3f}s after the last revert"
        else:
            name = f"recovery: not recovered after {recovery.seconds:.3f}s; still off: {', '.join(recovery.still_off)}"
        end = steps[-1].stop_s
        steps.append(ReportStep(name, end, end, recovery.recovered))
    return steps


def _observed(obs: Sequence[Observation], active: int, broken_ids: set[int]) -> list[ReportStep]:
    if not obs:
        return []
    when = f"while {active} fault{'s' if active != 1 else ''} active" if active > 0 else "with no fault active"
    kids = [ReportStep(f"{o.journey}: {o.verdict}, {o.reason or f'{o.elapsed_ms:.0f} ms'}",
                 o.at_s, o.at_s + o.elapsed_ms / 1000, o.verdict not in _NEVER_OK and id(o) not in broken_ids)
            for o in obs]
    shown = kids[:MAX_OBSERVATION_STEPS]
    if len(kids) > len(shown):
        rest = kids[len(shown):]
        shown.append(ReportStep(f"... and {len(rest)} more", rest[0].start_s, max(k.stop_s for k in rest),
                          all(k.passed for k in rest)))
    counts: dict[str, int] = {}
    for o in obs:
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
    summary = ", ".join(f"{v} x{n}" for v, n in sorted(counts.items()))
    return [ReportStep(f"observed {len(obs)} journey run{'s' if len(obs) != 1 else ''} {when}: {summary}",
                 kids[0].start_s, max(k.stop_s for k in kids), all(k.passed for k in kids), tuple(shown))]
