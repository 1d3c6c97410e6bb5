"""The `cascade` command line: wiring of library objects, one subcommand per job.

Each subcommand lives in its own module of this package and exposes
`register(sub: argparse._SubParsersAction) -> None`, which adds its parser and sets `func`;
`COMMANDS` lists the modules in the order `cascade --help` shows them. A command returns its
exit status; `HarnessError` is printed in one line (with its fix) and exits 2.

    cascade doctor [--provision] [--json]   what was found: toxiproxy, redis, go, docker
    cascade demo                            the March 2023 outage, brittle then resilient
    cascade images base|wheels|build        your own services' images where no registry is reachable
    cascade render k8s [--out DIR]          Kubernetes manifests: your services, Toxiproxy on every edge
    cascade up [--topology P] [--mode M]    a mesh that stays up between commands (held in the background)
    cascade status [--json]                 its services, proxies and active faults
    cascade inject EDGE_OR_SERVICE FAULT .. one fault, verified and recorded
    cascade heal [EDGE_OR_SERVICE]          revert recorded faults, verified
    cascade down                            revert, stop, leave nothing behind
    cascade run [PYTEST ARGS]               the suite with live progress and a summary table
    cascade cleanup                         reap what crashed runs left behind
    cascade verify-suite [PYTEST ARGS]      the detection matrix: scenarios x brittle knobs
    cascade soak N [PYTEST ARGS]            the suite N times: flakes, leftovers, resource trend
    cascade report [--results D] [--out D]  the Allure HTML report of a --alluredir run, built offline
    cascade explore [--budget 5m] [--mode M] search the fault space, shrink and journal a failure
    cascade replay JOURNAL                  re-run a journal's steps, compare verdicts, emit a scenario
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from typing import Callable, Sequence

from ..errors import HarnessError
from ._common import err

__all__ = ["COMMANDS", "build_parser", "main"]

# Subcommand modules, in the order `cascade --help` lists them.
COMMANDS = (
    "doctor", "demo", "init", "images", "render",
    "up", "status", "inject", "heal", "down",
    "run", "verify_suite", "soak", "report",
    "explore", "replay",
    "cleanup",
)

EXAMPLES = """examples:
  cascade doctor                 check Toxiproxy, Redis, Go and Docker
  cascade doctor --provision     also build toxiproxy-server 2.12.0 if it is missing
  cascade demo                   reproduce the March 2023 outage and watch it degrade gracefully
  cascade init --compose compose.yaml   draft a topology for your own system from its compose file
  cascade images build --compose compose.yaml   build your services' images, offline if need be
  cascade render k8s --out k8s   the topology as kustomize manifests (docs/kubernetes.md), then kubectl apply -k k8s
  cascade up                     start the bundled mesh and leave it running; prints its URLs
  cascade inject 'timeline->media' latency ms=2000   slow one edge (then: cascade status, cascade heal)
  cascade down                   revert every fault and stop the mesh
  cascade run -k march           the scenarios matching "march", one line each, then a summary table
  cascade cleanup                stop processes that a killed run left behind
  cascade verify-suite           run the scenarios resilient and once per brittle knob
  cascade soak 3 scenarios -k march   run those scenarios 3 times; report flakes and leftovers
  cascade report                 build allure-report/ from the allure-results/ of `pytest --alluredir allure-results`
  cascade explore --budget 5m --mode brittle:timeouts   search faults with Hypothesis, journal any failure
  cascade replay .cascade/journals/X.json --emit-scenario scenarios/test_x.py   re-run a journal, write a test
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade",
        description="Reproduce cascading failures on demand against a mesh behind real Toxiproxy.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    # A command that passes its arguments on (`cascade run -k x`) sets `passed_on`; argparse cannot
    # take a tail that starts with an option as a positional, so unknown words are collected in order.
    args, rest = parser.parse_known_args(argv)
    if rest and not hasattr(args, "passed_on"):
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if hasattr(args, "passed_on"):
        args.passed_on = rest
    previous: Callable[..., object] | int | None = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, _raise_interrupt)  # unwind like Ctrl-C: teardown always runs
    try:
        return int(args.func(args))
    except HarnessError as exc:
        err(str(exc))
        return 2
    except KeyboardInterrupt:
        err("interrupted; everything this command started has been stopped")
        return 130


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
