"""`cascade soak N [PYTEST ARGS]`: run the suite N times; report flakes, leftovers and resource trend."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..paths import state_dir
    from ..suite.soak import render, run_soak

    report = run_soak(args.runs, args.pytest_args or ["scenarios"], Path(args.workdir), state_dir=state_dir(),
                      log=lambda line: print(f"cascade: {line}", file=sys.stderr))
    print(render(report))
    return 0 if report.ok else 1


def _runs(text: str) -> int:
    """argparse type: a whole number of runs >= 1, refused with a usage error otherwise."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"N must be a whole number of runs, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"N must be at least 1, got {n}")
    return n


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("soak", help="run the suite N times; report flakes, leftovers and the resource trend",
                       description="Exit 0 only if every test had the same outcome in every run and no run left "
                                   "anything behind.")
    s.add_argument("runs", type=_runs, metavar="N", help="how many times to run the suite")
    s.add_argument("--workdir", default=".cascade/soak", help="where each run's JUnit XML and output go (give it before N)")
    s.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (default: scenarios)")
    s.set_defaults(func=run)
