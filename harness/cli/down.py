"""`cascade down`: revert the faults, stop the mesh `cascade up` started, and leave nothing behind."""

from __future__ import annotations

import argparse
import signal
import time
from typing import TYPE_CHECKING, Any

from ._common import colour, print_json
from .status import add_topology_option, held_name

if TYPE_CHECKING:
    from ._held import HeldMesh

__all__ = ["register", "run"]

EXIT_WAIT_S = 30.0


def run(args: argparse.Namespace) -> int:
    from ..errors import MeshError
    from ..paths import state_dir
    from ..runtime.runstate import kill_group, reap_run
    from ._held import call, find_held

    state = state_dir()
    held, path = find_held(state, held_name(args), any_state=True)
    result: dict[str, Any] = {"stopped": held.name, "reverted": [], "problems": [], "reaped": []}
    if held.holder_alive and held.state == "up":
        result = call(held, "down")
    elif held.holder_alive:  # still starting: SIGTERM makes the holder tear its half-started mesh down
        kill_group(held.holder_pid, held.holder_ticks, signal.SIGTERM)
    if not _exited(held):
        raise MeshError(f"the holder of mesh {held.name!r} (pid {held.holder_pid}) is still running "
                        f"{EXIT_WAIT_S:.0f} s after `down`; `cascade cleanup --all` kills it")
    # Whatever a dead holder left (its processes, its recorded faults), reaped from its run-state file.
    result["reaped"] = reap_run(state, held.run_id) if held.run_id else []
    path.unlink(missing_ok=True)
    if args.json:
        print_json(result)
        return 0
    for fault in result["reverted"]:
        print(f"reverted {fault}")
    for line in [*result["problems"], *result["reaped"]]:
        print(line)
    print(colour(f"mesh {held.name!r} is down", "green") + "; nothing of it is left running")
    return 0


def _exited(held: HeldMesh) -> bool:
    """Wait (bounded) until the holder process is gone: only then are its ports and files released."""
    deadline = time.monotonic() + EXIT_WAIT_S
    while held.holder_alive:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("down", help="revert every fault and stop the mesh `cascade up` started",
                       epilog="examples:\n  cascade down\n  cascade down --topology my/topology.toml",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_topology_option(d)
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(func=run)
