"""`cascade explore`: search the fault space of a topology with Hypothesis for a budget; journal what breaks."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Callable, TextIO

from ..runtime import RUNTIMES
from ._common import print_json

if TYPE_CHECKING:
    from ..explore.explorer import Progress

__all__ = ["progress_printer", "register", "run"]


def progress_printer(stream: TextIO, *, every_s: float = 1.0) -> Callable[[Progress], None]:
    """The live progress line: rewritten in place on a terminal, a line every `every_s` seconds otherwise."""
    tty = getattr(stream, "isatty", lambda: False)()
    last = [-every_s]

    def show(p: Progress) -> None:
        if not tty and p.seconds - last[0] < every_s:
            return
        last[0] = p.seconds
        faults = ", ".join(p.faults) or "none"
        line = (f"{p.seconds:6.1f}s  examples {p.examples}  failures {p.failures}"
                f"{'  (rerunning: reproducible or flaky, then minimal)' if p.classifying else '  (shrinking)' if p.shrinking else ''}"
                f"  faults: {faults}")
        if tty:
            stream.write("\r\033[K" + line[:200])
        else:
            stream.write(line + "\n")
        stream.flush()

    return show


def run(args: argparse.Namespace) -> int:
    import random

    from ..explore.explorer import parse_budget
    from ..explore.minimize import describe
    from ..explore.pool import ExploreSpec, check_workers, explore
    from ..modes import parse_mode
    from ..topology import load_topology

    budget_s = parse_budget(args.budget)  # bad input fails here, before anything starts
    check_workers(args.workers, args.runtime)
    topology = load_topology(args.topology)
    mode = parse_mode(args.mode, topology.knobs)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    spec = ExploreSpec(args.topology, budget_s, seed, mode=str(mode), runtime=args.runtime, max_steps=args.max_steps,
                       process_faults=not args.no_process_faults, config_faults=not args.no_config_faults)
    workers = f" workers={args.workers}" if args.workers > 1 else ""
    print(f"cascade explore: topology={topology.name} ({topology.digest()}) runtime={args.runtime} mode={mode} "
          f"seed={seed} budget={budget_s:g}s{workers}", file=sys.stderr)
    result = explore(spec, workers=args.workers, progress=progress_printer(sys.stderr))
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    summary = {
        "seed": result.seed, "examples": result.examples, "failing_examples": result.failing_examples,
        "seconds": round(result.seconds, 1), "first_failure_s": result.first_failure_s, "flaky": result.flaky,
        "classification": result.classification or None,
        "journal": str(result.journal_path) if result.journal_path else None,
        "faults": [s.to_dict()["line"] for s in result.journal.steps if s.action == "inject"] if result.journal else [],
        "broken": result.journal.message.splitlines() if result.journal else [],
    }  # fmt: skip
    if args.json:
        print_json(summary)
    elif result.journal is None:
        print(f"no failure in {result.examples} examples over {result.seconds:.0f} s (seed {result.seed})")
    else:
        print(f"FAILURE after {result.first_failure_s:.1f} s ({result.examples} examples, seed {result.seed}), "
              f"{result.classification or 'not rerun'}")
        for step in result.journal.steps:
            print(f"  {step.action:<6} {step.fault.describe()}")
        for line in summary["broken"]:
            print(f"  broke: {line}")
        for line in describe(result.journal):
            print(line)
        print(f"journal: {result.journal_path}\nreplay:  cascade replay {result.journal_path}")
    return 1 if result.failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    e = sub.add_parser("explore", help="search the fault space with Hypothesis; journal and shrink any failure",
                       description="Exit 1 when a failure is found (its journal path is printed), 0 when none is.")
    e.add_argument("--budget", default="5m", help="how long to explore: 30s, 5m, 1h (default 5m)")
    e.add_argument("--topology", default="services/topology.toml", help="topology TOML to bring up")
    e.add_argument("--mode", default="resilient", help="resilient, brittle or brittle:KNOB[,KNOB...]")
    e.add_argument("--runtime", default="local", choices=list(RUNTIMES), help="local (default) or another registered runtime")
    e.add_argument("--seed", type=int, default=None, help="seed of the run (random if not given; printed)")
    e.add_argument("--max-steps", type=int, default=4, help="inject/heal steps per example (default 4)")
    e.add_argument("--workers", type=int, default=1,
                   help="meshes explored at once, one process each (default 1; worker w uses seed + w*1000003)")
    e.add_argument("--no-process-faults", action="store_true", help="only network and config faults")
    e.add_argument("--no-config-faults", action="store_true", help="no bad config pushes")
    e.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    e.set_defaults(func=run)
