"""`cascade replay JOURNAL`: run a journal's fault steps again and compare the verdicts; optionally emit a scenario."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..runtime import RUNTIMES
from ._common import print_json

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..explore.journal import Journal, replay, scenario_text
    from ..mesh import Mesh
    from ..topology import load_topology

    journal = Journal.load(args.journal)
    if args.emit_scenario:
        path = Path(args.emit_scenario)
        path.write_text(scenario_text(journal))
        print(f"wrote {path}: run it with pytest {path} --cascade-mode {journal.mode}")
        if not args.run:
            return 0
    topology = load_topology(args.topology or journal.topology_path)
    print(f"cascade replay: {args.journal}: topology={journal.topology_name} mode={journal.mode} "
          f"seed={journal.seed}, {len(journal.steps)} steps", file=sys.stderr)
    with Mesh(topology, runtime=args.runtime or journal.runtime, mode=journal.mode, seed=journal.seed) as mesh:
        mesh.steady_state()
        result = replay(mesh, journal)
    if args.json:
        print_json({"same": result.same, "differences": list(result.differences), "seconds": round(result.seconds, 1),
                    "checks": [c.to_dict() for c in result.checks]})
    else:
        for c in result.checks:
            verdicts = ", ".join(f"{n} {v}" for n, v in sorted(c.verdicts.items()))
            print(f"after step {c.after_step + 1} ({c.kind}): {verdicts}")
            for b in c.broken:
                print(f"  broke: {b}")
        print("same verdicts as the journal" if result.same else "verdicts differ from the journal:")
        for d in result.differences:
            print(f"  {d}")
    return 0 if result.same else 1


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("replay", help="re-run a journal's fault steps and compare verdicts",
                       description="Exit 0 when every check shows the journal's verdicts, 1 when any differs.")
    r.add_argument("journal", help="a journal written by `cascade explore` (.cascade/journals/*.json)")
    r.add_argument("--topology", default="", help="topology TOML (default: the path the journal recorded)")
    r.add_argument("--runtime", default="", choices=list(RUNTIMES), help="a registered runtime (default: the journal's)")
    r.add_argument("--emit-scenario", default="", metavar="PATH", help="write a pytest scenario for the journal to PATH")
    r.add_argument("--run", action="store_true", help="with --emit-scenario: also replay now")
    r.add_argument("--json", action="store_true", help="print the replay as JSON on stdout")
    r.set_defaults(func=run)
