"""The `cascade` command line: wiring of library objects, one subcommand per job.

    cascade doctor [--provision] [--json]   what was found: toxiproxy, redis, go, docker
    cascade demo                            the March 2023 outage, brittle then resilient
    cascade cleanup                         reap what crashed runs left behind
    cascade verify-suite [PYTEST ARGS]      the detection matrix: scenarios x brittle knobs
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Callable, Sequence

from .errors import HarnessError

__all__ = ["main"]

EXAMPLES = """examples:
  cascade doctor                 check Toxiproxy, Redis, Go and Docker
  cascade doctor --provision     also build toxiproxy-server 2.12.0 if it is missing
  cascade demo                   reproduce the March 2023 outage and watch it degrade gracefully
  cascade cleanup                stop processes that a killed run left behind
  cascade verify-suite           run the scenarios resilient and once per brittle knob
"""


def _err(msg: str) -> None:
    print(f"cascade: error: {msg}", file=sys.stderr)


def cmd_doctor(args: argparse.Namespace) -> int:
    from .provision import doctor_report, find_toxiproxy

    if args.provision:
        find_toxiproxy(log=lambda line: print(f"cascade: {line}", file=sys.stderr))
    rows = doctor_report()
    toxiproxy_ok = any(what == "toxiproxy-server" and ok for what, _f, ok in rows)
    if args.json:
        print(json.dumps([{"what": w, "finding": f, "ok": ok} for w, f, ok in rows], indent=1))
    elif not args.quiet:
        width = max(len(w) for w, _f, _ok in rows)
        for what, finding, ok in rows:
            print(f"{'ok ' if ok else '-- '} {what:<{width}}  {finding}")
    return 0 if toxiproxy_ok else 1


def cmd_cleanup(args: argparse.Namespace) -> int:
    from .paths import state_dir
    from .runstate import reap_leftovers

    cleaned = reap_leftovers(state_dir(), include_detached=args.all)
    for line in cleaned:
        print(f"cleaned up: {line}")
    if not cleaned:
        print("nothing to clean up")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    # The demo is a story about the bundled mesh (services/), shipped in the same distribution;
    # this is the one place the harness names it, and only when asked for the demo.
    from services.demo import run_demo

    return run_demo(out=sys.stdout)


def cmd_verify_suite(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .topology import load_topology
    from .verify import matrix_text, run_matrix

    topology = load_topology(args.topology)
    knobs = args.knob or list(topology.knobs)
    unknown = [k for k in knobs if k not in topology.knobs]
    if unknown:
        _err(f"unknown knob {unknown[0]!r}; {topology.name} declares: {', '.join(topology.knobs)}")
        return 2
    pytest_args = [f"--cascade-topology={args.topology}", *args.pytest_args]
    m = run_matrix(knobs, pytest_args, Path(args.workdir), log=lambda line: print(line, file=sys.stderr))
    print(matrix_text(m))
    if args.json:
        Path(args.json).write_text(json.dumps({"knobs": m.knobs, "outcomes": m.outcomes, "seconds": m.seconds}, indent=1))
    return 0 if m.ok else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="cascade",
        description="Reproduce cascading failures on demand against a mesh behind real Toxiproxy.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser("doctor", help="report what Cascade found (toxiproxy, redis, go, docker)")
    d.add_argument("--provision", action="store_true", help="build toxiproxy-server 2.12.0 if it is missing")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--quiet", action="store_true", help="print nothing; exit status says if Toxiproxy is usable")
    d.set_defaults(func=cmd_doctor)

    c = sub.add_parser("cleanup", help="reap processes left by runs whose runner died")
    c.add_argument("--all", action="store_true", help="also stop detached meshes (from `cascade up`)")
    c.set_defaults(func=cmd_cleanup)

    m = sub.add_parser("demo", help="the March 2023 outage on the bundled mesh, brittle then resilient")
    m.set_defaults(func=cmd_demo)

    v = sub.add_parser("verify-suite", help="run the suite resilient and once per brittle knob; print the matrix",
                       description="Exit 0 only if every scenario passes resilient and every knob is caught.")
    v.add_argument("--topology", default="services/topology.toml", help="topology whose knobs are checked")
    v.add_argument("--knob", action="append", help="only this knob (repeatable); default: all the topology's knobs")
    v.add_argument("--workdir", default=".cascade/verify", help="where the JUnit XML of each run goes")
    v.add_argument("--json", default="", help="also write the matrix as JSON to this file")
    v.add_argument("pytest_args", nargs="*", default=["scenarios"], help="passed to pytest (default: scenarios)")
    v.set_defaults(func=cmd_verify_suite)
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
        _err(str(exc))
        return 2
    except KeyboardInterrupt:
        _err("interrupted; everything this command started has been stopped")
        return 130


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main())
