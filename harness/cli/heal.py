"""`cascade heal [TARGET]`: revert the faults `cascade inject` applied, every one or those on one edge or service."""

from __future__ import annotations

import argparse

from ._common import colour, print_json
from .status import add_topology_option, held_name

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..paths import state_dir
    from ._held import call, find_held

    held, _path = find_held(state_dir(), held_name(args))
    result = call(held, "heal", target=args.target)
    if args.json:
        print_json(result)
        return 0
    where = f" on {args.target}" if args.target else ""
    if not result["reverted"]:
        print(f"no active faults{where}; nothing to heal")
    for fault in result["reverted"]:
        print(colour(f"reverted {fault}", "green") + " (verified)")
    if result["left"]:
        print(f"still active: {', '.join(result['left'])}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    h = sub.add_parser("heal", help="revert injected faults (all, or those on one edge or service), verified",
                       epilog="examples:\n  cascade heal                     every fault\n"
                              "  cascade heal 'timeline->media'   the faults on that edge\n"
                              "  cascade heal media               the faults on media and on its edges",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_argument("target", nargs="?", metavar="EDGE_OR_SERVICE", help="only the faults on this edge or service")
    add_topology_option(h)
    h.add_argument("--json", action="store_true", help="machine-readable output")
    h.set_defaults(func=run)
