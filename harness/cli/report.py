"""`cascade report`: build the Allure HTML report of a run, offline, and say where it is; merge shards' reports.

    cascade report                                         allure-results/ -> allure-report/
    cascade report --results s1/allure-results --results s2/allure-results --junit s1.xml --junit s2.xml
                                                           the shards' results merged, one report, one JUnit file
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ._common import print_json

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..report.allure_generator import generate
    from ..report.merge import merge_allure, merge_junit

    results = [Path(r) for r in (args.results or ["allure-results"])]
    say = (lambda line: print(line, file=sys.stderr)) if args.json else print
    if args.junit:
        totals = merge_junit([Path(j) for j in args.junit], Path(args.merged_junit))
        say(f"junit: {Path(args.merged_junit).resolve()}: {len(args.junit)} files, {totals.tests} tests, "
              f"{totals.failures} failed, {totals.errors} errors, {totals.skipped} skipped")
    if len(results) > 1:
        merged = Path(args.merged_results)
        n = merge_allure(results, merged)
        say(f"allure results: {merged.resolve()}: {n} test results from {len(results)} folders")
        results = [merged]
    if args.merge_only:
        return 0
    index = generate(results[0], Path(args.out), single_file=args.single_file,
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
    r.add_argument("--results", action="append", default=None,
                   help="what pytest --alluredir wrote (default: allure-results); repeat it for several shards")
    r.add_argument("--merged-results", default="allure-results-merged",
                   help="where several --results are merged (default: allure-results-merged), replaced")
    r.add_argument("--junit", action="append", default=[],
                   help="a shard's pytest --junitxml file (repeatable): merged into --merged-junit")
    r.add_argument("--merged-junit", default="junit-merged.xml", help="the merged JUnit file (default: junit-merged.xml)")
    r.add_argument("--merge-only", action="store_true", help="merge, but build no HTML (no Java needed)")
    r.add_argument("--out", default="allure-report", help="where the HTML goes, replaced (default: allure-report)")
    r.add_argument("--single-file", action="store_true", help="one index.html that opens from disk without a server")
    r.add_argument("--json", action="store_true", help="print where the report is as JSON")
    r.set_defaults(func=run)
