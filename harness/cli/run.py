"""`cascade run [PYTEST ARGS]`: the resilience suite with a live line per scenario and a summary table."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from ._common import print_json

__all__ = ["register", "run"]

INTERRUPT_WAIT_S = 60.0  # pytest got the same Ctrl-C: let it revert faults and stop its mesh

EXAMPLES = """examples:
  cascade run                                   every scenario
  cascade run -k march                          the scenarios whose names match "march"
  cascade run scenarios/test_media.py -x        one file, stop at the first failure
  cascade run --json -k march > summary.json    pytest's output on stderr, the summary as JSON on stdout
  cascade run --cascade-mode brittle:timeouts   the suite against a brittle mesh (it should fail)

With no test path among the arguments pytest runs scenarios/ (its testpaths, overridden).
The exit status is pytest's.
"""


def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="cascade-run-") as tmp:
        summary = Path(tmp) / "summary.json"
        argv = [sys.executable, "-m", "pytest", "-p", "harness.cli.progress", "-q", "-o", "console_output_style=classic",
                "-o", "testpaths=scenarios", f"--cascade-summary={summary}", *args.passed_on]
        # With --json, stdout is the summary alone; pytest's own output goes to stderr.
        proc = subprocess.Popen(argv, stdout=sys.stderr if args.json else None)
        try:
            status = proc.wait()
        except KeyboardInterrupt as exc:
            if str(exc).startswith("signal"):  # SIGTERM reached only us: pass it on, pytest unwinds on it
                proc.terminate()
            try:
                proc.wait(INTERRUPT_WAIT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
        if args.json:
            print_json(json.loads(summary.read_text()) if summary.exists() else
                       {"exit_status": status, "tests": [], "counts": {}, "seconds": None})
    return status


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="run the scenarios with live progress and a summary table",
                       usage="cascade run [--json] [PYTEST ARGS...]",
                       description="Run pytest on the resilience suite: one line per finished scenario "
                                   "(outcome, time, a counter), then a table of all of them.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--json", action="store_true", help="print the summary as JSON on stdout (pytest's output: stderr)")
    r.set_defaults(func=run, passed_on=[])  # every other argument goes to pytest, in order
