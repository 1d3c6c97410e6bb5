"""`cascade report`: build the Allure HTML report of a run, offline, and say where it is."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import print_json

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..report.allure_generator import generate

    index = generate(Path(args.results), Path(args.out), single_file=args.single_file,
                     log=lambda line: print(f"cascade: {line}", file=sys.stderr))
    if args.json:
        print_json({"report": str(index.parent.resolve()), "index": str(index.resolve())})
    elif args.single_file:
        print(f"report: {index.resolve()} (one file: open it in a browser)")
    else:
        print(f"report: {index.resolve()}")
        print(f"view it: python -m http.server --bind 127.0.0.1 --directory {index.parent} 8080, "
              "then open http://127.0.0.1:8080/")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("report", help="build the Allure HTML report from pytest --alluredir results (offline)",
                       description="Builds the HTML report with the Allure generator (npm package allure-commandline, "
                                   "installed once into ~/.cache/cascade/allure; runs on Java 8+).")
    r.add_argument("--results", default="allure-results", help="what pytest --alluredir wrote (default: allure-results)")
    r.add_argument("--out", default="allure-report", help="where the HTML goes, replaced (default: allure-report)")
    r.add_argument("--single-file", action="store_true", help="one index.html that opens from disk without a server")
    r.add_argument("--json", action="store_true", help="print where the report is as JSON")
    r.set_defaults(func=run)
