"""The detection matrix: the suite run once resilient and once per brittle knob, scenarios x knobs.

    resilient run: every scenario must pass (the mesh keeps its promises)
    brittle:<knob> runs: at least one scenario must fail per knob (the suite catches that knob)

Outcomes are read from each run's JUnit XML, so any pytest suite works. `matrix_text` and
`verdict` are pure; `run_matrix` is the thin loop that starts the pytest subprocesses.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

__all__ = ["Matrix", "matrix_text", "parse_junit", "run_matrix"]

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass(frozen=True)
class Matrix:
    """Outcomes per run label (resilient, then each knob) per scenario id."""

    knobs: tuple[str, ...]
    outcomes: Mapping[str, Mapping[str, str]]  # label -> scenario -> pass|fail|skip
    seconds: Mapping[str, float]

    @property
    def scenarios(self) -> list[str]:
        return sorted(set().union(*(set(o) for o in self.outcomes.values())))

    def uncaught(self) -> list[str]:
        """Knobs that no scenario failed on."""
        return [k for k in self.knobs if FAIL not in self.outcomes.get(k, {}).values()]

    def resilient_failures(self) -> list[str]:
        return sorted(s for s, o in self.outcomes.get("resilient", {}).items() if o == FAIL)

    def never_red(self) -> list[str]:
        """Scenarios that failed on no knob: they cannot tell resilient from brittle."""
        return [s for s in self.scenarios if not any(self.outcomes.get(k, {}).get(s) == FAIL for k in self.knobs)]

    @property
    def ok(self) -> bool:
        return not self.uncaught() and not self.resilient_failures() and "resilient" in self.outcomes


def parse_junit(path: Path) -> dict[str, str]:
    """scenario id ("file::test") -> pass|fail|skip from a JUnit XML file."""
    out: dict[str, str] = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        classname = case.get("classname", "")
        name = f"{classname.rsplit('.', 1)[-1]}::{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            out[name] = FAIL
        elif case.find("skipped") is not None:
            out[name] = SKIP
        else:
            out[name] = PASS
    return out


def matrix_text(m: Matrix) -> str:
    """scenarios x (resilient, knobs): '.' passed, 'X' failed (the knob was caught), 's' skipped."""
    labels = ["resilient", *m.knobs]
    mark = {PASS: ".", FAIL: "X", SKIP: "s"}
    width = max([len(s) for s in m.scenarios] + [8])
    head = [" " * width + "  " + "  ".join(f"{i:>2}" for i in range(len(labels)))]
    legend = [f"  {i:>2} = {label}" for i, label in enumerate(labels)]
    rows = []
    for s in m.scenarios:
        cells = [mark.get(m.outcomes.get(label, {}).get(s, ""), "?") for label in labels]
        rows.append(f"{s:<{width}}  " + "  ".join(f"{c:>2}" for c in cells))
    caught = [f"{k}: caught by {sum(o == FAIL for o in m.outcomes.get(k, {}).values())} scenario(s)" for k in m.knobs]
    summary = [
        "",
        *(f"  {line}" for line in caught),
        f"  resilient failures: {', '.join(m.resilient_failures()) or 'none'}",
        f"  knobs uncaught: {', '.join(m.uncaught()) or 'none'}",
        f"  scenarios red on no knob: {len(m.never_red())}",
        "  time: " + ", ".join(f"{label} {m.seconds.get(label, 0):.0f}s" for label in labels),
    ]
    return "\n".join(["legend:", *legend, "", *head, *rows, *summary])


def run_matrix(
    knobs: Sequence[str],
    pytest_args: Sequence[str],
    workdir: Path,
    *,
    runner: Callable[[list[str]], int] | None = None,
    clock: Callable[[], float] | None = None,
    log: Callable[[str], None] = lambda _line: None,
) -> Matrix:
    """Run pytest once resilient and once per knob; collect outcomes from JUnit XML."""
    import time

    clock = clock or time.monotonic
    run = runner or (lambda argv: subprocess.run(argv, stdout=subprocess.DEVNULL).returncode)
    workdir.mkdir(parents=True, exist_ok=True)
    outcomes: dict[str, dict[str, str]] = {}
    seconds: dict[str, float] = {}
    for label, mode in [("resilient", "resilient"), *((k, f"brittle:{k}") for k in knobs)]:
        xml = workdir / f"{label}.xml"
        xml.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--cascade-mode={mode}",
                f"--junitxml={xml}", *pytest_args]
        log(f"running the suite with --cascade-mode={mode}")
        t0 = clock()
        rc = run(argv)
        seconds[label] = clock() - t0
        outcomes[label] = parse_junit(xml) if xml.exists() else {}
        log(f"  {mode}: exit {rc}, {sum(o == FAIL for o in outcomes[label].values())} failed, "
            f"{len(outcomes[label])} scenarios, {seconds[label]:.0f} s")
    return Matrix(tuple(knobs), outcomes, seconds)
