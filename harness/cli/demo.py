"""`cascade demo`: the March 2023 outage on the bundled mesh, brittle then resilient."""

from __future__ import annotations

import argparse
import sys

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    # The demo is a story about the bundled mesh (services/), shipped in the same distribution;
    # this is the one place the harness names it, and only when asked for the demo.
    from services.demo import run_demo

    return run_demo(out=sys.stdout)


def register(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("demo", help="the March 2023 outage on the bundled mesh, brittle then resilient")
    m.set_defaults(func=run)
