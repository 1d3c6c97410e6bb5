"""The `cascade` command line: wiring of library objects, one subcommand per job.

Each subcommand lives in its own module of this package and exposes
`register(sub: argparse._SubParsersAction) -> None`, which adds its parser and sets `func`;
`COMMANDS` lists the modules in the order `cascade --help` shows them. A command returns its
exit status; `HarnessError` is printed in one line (with its fix) and exits 2.

    cascade doctor [--provision] [--json]   what was found: toxiproxy, redis, go, docker
    cascade demo                            the March 2023 outage, brittle then resilient
    cascade cleanup                         reap what crashed runs left behind
    cascade verify-suite [PYTEST ARGS]      the detection matrix: scenarios x brittle knobs
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
COMMANDS = ("doctor", "demo", "cleanup", "verify_suite")

EXAMPLES = """examples:
  cascade doctor                 check Toxiproxy, Redis, Go and Docker
  cascade doctor --provision     also build toxiproxy-server 2.12.0 if it is missing
  cascade demo                   reproduce the March 2023 outage and watch it degrade gracefully
  cascade cleanup                stop processes that a killed run left behind
  cascade verify-suite           run the scenarios resilient and once per brittle knob
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
    args = parser.parse_args(argv)
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
