"""After a failure: rerun it to classify it, then cut its schedule down until no step can go.

    shrunk schedule ──rerun──> fails again?  no ──> flaky: both runs kept, nothing removed
                                  │ yes: reproducible
                                  v
    for each unit (a fault: its inject with its heal; then each heal alone):
        rerun the schedule without it ──> still fails? keep the removal, start over
    until a whole pass removes nothing: 1-minimal (no single fault or heal can go)

Hypothesis shrinks a failing example as far as its own search goes, which can leave faults
that play no part (three faults where one reproduces it). Removing each in turn on the real
mesh and keeping what still fails is the last step of delta debugging; a removal "still fails"
when the rerun breaks any contract. Every removal tried is recorded in the journal, with whether
the schedule without it still failed.

Each rerun starts from the mesh at rest (`Trial` resets it). A failure that leaves lasting
damage (data lost, a service wedged) keeps the mesh off its baseline, and a rerun on it would
fail for that reason alone: then `Mesh.reset` restarts every service, callees first, and the
mesh must settle before the rerun counts; if it cannot, the classification stops and says so
(`unconfirmed`).

The decisions (which units, what is kept, the class) are pure; the caller passes `run`, which
replays a schedule on the mesh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import HarnessError
from .journal import Journal, Removal

if TYPE_CHECKING:
    from ..mesh import Mesh
    from .trial import Check, Step, Trial

__all__ = ["FLAKY", "Outcome", "REPRODUCIBLE", "Removal", "UNCONFIRMED", "confirm_and_minimize", "describe",
           "rerun_at_rest", "units", "without"]

REPRODUCIBLE = "reproducible"  # failed again when rerun with the same faults
FLAKY = "flaky"  # passed when rerun with the same faults: both runs are reported, it is never a pass
UNCONFIRMED = "unconfirmed"  # the rerun could not be made (the mesh would not come back to rest)
MAX_RERUNS = 40  # a bound on minimizing: a schedule has at most a handful of steps


@dataclass(frozen=True)
class Outcome:
    """What a rerun of a schedule showed: its checks, and whether any contract broke."""

    steps: tuple[Step, ...]
    checks: tuple[Check, ...]
    broken: tuple[str, ...]
    seconds: float

    @property
    def failed(self) -> bool:
        return bool(self.broken)


def units(steps: Sequence[Step]) -> list[tuple[int, ...]]:
    """What may be removed, as step indices: each fault (its inject and the heal that ends it), then each heal alone."""
    faults: list[tuple[int, ...]] = []
    heals: list[tuple[int, ...]] = []
    for i, step in enumerate(steps):
        if step.action != "inject":
            heals.append((i,))
            continue
        heal = next((k for k in range(i + 1, len(steps))
                     if steps[k].action == "heal" and steps[k].fault == step.fault), None)
        faults.append((i,) if heal is None else (i, heal))
    return faults + heals


def without(steps: Sequence[Step], indices: Sequence[int]) -> tuple[Step, ...]:
    """`steps` with the ones at `indices` taken out."""
    gone = set(indices)
    return tuple(s for i, s in enumerate(steps) if i not in gone)


def _label(step: Step) -> str:
    return f"{step.action} {step.to_dict()['line']}"


def confirm_and_minimize(journal: Journal, run: Callable[[Sequence[Step]], Outcome], *,
                         clock: Callable[[], float] = time.monotonic) -> Journal:
    """The journal classified (`reproducible`, `flaky`, or `unconfirmed`) and, if reproducible, 1-minimal.

    `run` replays a schedule from the mesh at rest; a HarnessError from it (the mesh would not
    come back to rest) ends the work there, keeping what was already shown.
    """
    try:
        first = run(journal.steps)
    except HarnessError as exc:
        return replace(journal, classification=UNCONFIRMED, note=f"the rerun could not be made: {exc}")
    if not first.failed:
        return replace(journal, classification=FLAKY, rerun=first.checks,
                       note="failed once, passed when rerun with the same faults: both runs are here")
    best, removals, reruns = first, [], 1
    note = ""
    changed = True
    while changed:
        changed = False
        for unit in units(best.steps):
            candidate = without(best.steps, unit)
            if not any(s.action == "inject" for s in candidate):
                continue  # no fault left: a failure then is a mesh broken at rest, which the gate rules out
            if reruns >= MAX_RERUNS:
                note = f"minimizing stopped after {MAX_RERUNS} reruns"
                break
            started = clock()
            try:
                outcome = run(candidate)
            except HarnessError as exc:
                note = f"minimizing stopped: {exc}"
                changed = False
                break
            reruns += 1
            removals.append(Removal(tuple(_label(best.steps[i]) for i in unit), outcome.failed,
                                    round(clock() - started, 3)))
            if outcome.failed:
                best, changed = outcome, True
                break
        if note:
            break
    message = "\n".join(best.broken)
    return replace(journal, steps=best.steps, checks=best.checks, message=message or journal.message,
                   classification=REPRODUCIBLE, rerun=first.checks, removals=tuple(removals), note=note)


def rerun_at_rest(mesh: Mesh, steps: Sequence[Step], *, clock: Callable[[], float] = time.monotonic) -> Outcome:
    """Replay `steps` from the mesh at rest and say what it showed."""
    from .trial import run_steps

    started = clock()
    trial: Trial = run_steps(mesh, steps)  # from the mesh at rest: reset restarts the services if need be
    # The schedule as asked, not trial.steps: those add the heals the trial's close made, and a
    # heal removed would come back with them. Replaying `steps` closes the same way again.
    return Outcome(tuple(steps), tuple(trial.checks), trial.broken, clock() - started)


def _run_lines(checks: Sequence[Check]) -> list[str]:
    return [f"    check {i + 1} ({c.kind} after step {c.after_step + 1}): "
            + (("broke: " + "; ".join(c.broken)) if c.broken else "kept: "
               + ", ".join(f"{n} {v}" for n, v in sorted(c.verdicts.items())))
            for i, c in enumerate(checks)]


def describe(journal: Journal) -> list[str]:
    """The classification as report lines: its class and why; for a flaky failure both runs; the removals tried."""
    if journal.classification == FLAKY:
        return [f"flaky: {journal.note}", "  the run that failed:", *_run_lines(journal.checks),
                "  the rerun with the same faults, which passed:", *_run_lines(journal.rerun)]
    if journal.classification == UNCONFIRMED:
        return [f"unconfirmed: {journal.note}"]
    if journal.classification != REPRODUCIBLE:
        return []
    kept = sum(r.still_failed for r in journal.removals)
    injects = sum(s.action == "inject" for s in journal.steps)
    lines = [f"reproducible: failed again when rerun with the same faults; 1-minimal at {injects} "
             f"fault{'s' if injects != 1 else ''} ({len(journal.removals)} removals tried, {kept} kept)"
             + (f"; {journal.note}" if journal.note else "")]
    lines += [f"  without {' + '.join(r.removed)}: {'still failed, removed' if r.still_failed else 'passed, kept'}"
              for r in journal.removals]
    return lines
