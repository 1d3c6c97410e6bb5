"""Classifying a failed scenario by running it once more, alone, on a mesh of its own (`--cascade-confirm`).

    scenario fails ──> pytest <its node id> --cascade-topology/-runtime/-mode/-seed as this run
                          (a new process, a new mesh, no report options, no --cascade-confirm)
                        ├── fails again ──> reproducible
                        └── passes      ──> flaky: the failure stands, both runs are reported

The failure is never turned into a pass: the classification is added to the failing report
(its text, which JUnit and Allure carry, and a `cascade_failure_class` property). The rerun
runs in a new process on a new mesh, not on the session's, because a scenario's function-scoped
fixtures (seeded data, a load generator) cannot be set up a second time in the same item, and
a rerun that skipped them would prove nothing. `classify_rerun` and `rerun_argv` are pure.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["RERUN_TIMEOUT_S", "Rerun", "classify_rerun", "rerun", "rerun_argv"]

RERUN_TIMEOUT_S = 900.0  # a compose mesh is built and brought up for the rerun
TAIL_LINES = 30


@dataclass(frozen=True)
class Rerun:
    """How the rerun of one failed scenario came out."""

    classification: str  # reproducible | flaky | unconfirmed
    exit_code: int | None
    seconds: float
    output_tail: str

    def section(self, first_failure: str) -> str:
        """The report section: the class, both runs' outcomes, the rerun's own words."""
        head = {
            "reproducible": "reproducible: it failed again when rerun alone on a new mesh with the same faults",
            "flaky": ("flaky: it passed when rerun alone on a new mesh with the same faults; the failure above "
                      "still stands (a flaky result is never a pass)"),
        }.get(self.classification, f"unconfirmed: the rerun could not be judged (exit {self.exit_code})")
        return "\n".join([head, f"first run: failed: {first_failure}",
                          f"rerun:     {_outcome(self.exit_code)} in {self.seconds:.1f} s; its last lines:",
                          self.output_tail])


def _outcome(code: int | None) -> str:
    return {0: "passed", 1: "failed", None: "timed out"}.get(code, f"exit {code}")


def classify_rerun(exit_code: int | None, output: str) -> str:
    """reproducible (exit 1 with a failure), flaky (exit 0 with a pass), unconfirmed otherwise."""
    if exit_code == 0 and re.search(r"\b1 passed\b", output):
        return "flaky"
    if exit_code == 1 and re.search(r"\b1 (failed|error)\b", output):
        return "reproducible"
    return "unconfirmed"


def rerun_argv(nodeid: str, *, topology: str, runtime: str, mode: str, seed: int,
               python: str = sys.executable) -> list[str]:
    """The command that runs one scenario again: same topology, runtime, mode and seed; nothing else of this run's."""
    # name=value, one word each: pytest takes a bare word that names a file for a place to collect
    # from (and to find its rootdir by), and the topology's path is one.
    return [python, "-m", "pytest", nodeid, "-q", "-p", "no:cacheprovider", "-p", "no:randomly", "-o", "addopts=",
            f"--cascade-topology={topology}", f"--cascade-runtime={runtime}", f"--cascade-mode={mode}",
            f"--cascade-seed={seed}"]


def rerun(argv: Sequence[str], cwd: Path, *, timeout_s: float = RERUN_TIMEOUT_S) -> Rerun:
    """Run the scenario again in a new process and classify what came back."""
    started = time.monotonic()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    try:
        done = subprocess.run(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=timeout_s)
        code, output = done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as exc:
        code = None
        output = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    tail = "\n".join(output.rstrip().splitlines()[-TAIL_LINES:])
    return Rerun(classify_rerun(code, output), code, time.monotonic() - started, tail)
