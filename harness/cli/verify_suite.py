"""`cascade verify-suite`: the detection matrix, scenarios x brittle knobs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ._common import err

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..topology import load_topology
    from ..suite.verify import matrix_text, run_matrix

    topology = load_topology(args.topology)
    knobs = args.knob or list(topology.knobs)
    unknown = [k for k in knobs if k not in topology.knobs]
    if unknown:
        err(f"unknown knob {unknown[0]!r}; {topology.name} declares: {', '.join(topology.knobs)}")
        return 2
    pytest_args = [f"--cascade-topology={args.topology}", *args.pytest_args]
    m = run_matrix(knobs, pytest_args, Path(args.workdir), log=lambda line: print(line, file=sys.stderr))
    print(matrix_text(m))
    if args.json:
        Path(args.json).write_text(json.dumps({"knobs": m.knobs, "outcomes": m.outcomes, "seconds": m.seconds}, indent=1))
    return 0 if m.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("verify-suite", help="run the suite resilient and once per brittle knob; print the matrix",
                       description="Exit 0 only if every scenario passes resilient and every knob is caught.",
                       epilog="examples:\n"
                              "  cascade verify-suite                              every knob, all of scenarios/\n"
                              "  cascade verify-suite --knob timeouts              one knob\n"
                              "  cascade verify-suite -- scenarios -k march --cascade-runtime compose\n"
                              "                                                    pytest options go after --",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("--topology", default="services/topology.toml", help="topology whose knobs are checked")
    v.add_argument("--knob", action="append", help="only this knob (repeatable); default: all the topology's knobs")
    v.add_argument("--workdir", default=".cascade/verify", help="where the JUnit XML of each run goes")
    v.add_argument("--json", default="", help="also write the matrix as JSON to this file")
    v.add_argument("pytest_args", nargs="*", default=["scenarios"], help="passed to pytest (default: scenarios)")
    v.set_defaults(func=run)
