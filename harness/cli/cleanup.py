"""`cascade cleanup`: stop what runs whose runner died left behind."""

from __future__ import annotations

import argparse

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..paths import state_dir
    from ..runtime.runstate import reap_leftovers

    cleaned = reap_leftovers(state_dir(), include_detached=args.all)
    failed = [line for line in cleaned if line.startswith("could not clean")]
    for line in cleaned:
        print(line if line in failed else f"cleaned up: {line}")
    if not cleaned:
        print("nothing to clean up")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    c = sub.add_parser("cleanup", help="reap processes left by runs whose runner died")
    c.add_argument("--all", action="store_true", help="also stop detached meshes (from `cascade up`)")
    c.set_defaults(func=run)
