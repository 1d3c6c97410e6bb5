"""`cascade up`: bring a mesh up and leave it running for `status`, `inject`, `heal` and `down`."""

from __future__ import annotations

import argparse
import json
import os
import select
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ..runtime import RUNTIMES
from ._common import colour, print_json

__all__ = ["register", "run"]

START_TIMEOUT_S = 900.0  # the first run may build toxiproxy-server with `go install`
STOP_WAIT_S = 30.0


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..modes import parse_mode
    from ..paths import state_dir
    from ..topology import load_topology
    from ._held import decode_error, held_dir, occupied

    if args.runtime not in RUNTIMES:
        raise UsageError(f"unknown runtime {args.runtime!r}; use --runtime {' or '.join(RUNTIMES)}")
    path = Path(args.topology).resolve()
    topology = load_topology(path)  # every input checked before anything starts
    mode = parse_mode(args.mode, topology.knobs)
    state = state_dir()
    why = occupied(state, topology.name)
    if why:
        raise UsageError(why)
    held_dir(state).mkdir(parents=True, exist_ok=True)
    log = held_dir(state) / f"{topology.name}.log"
    spec = {"topology": str(path), "runtime": args.runtime, "mode": str(mode), "log": str(log)}
    print(f"cascade: starting mesh {topology.name!r} ({args.runtime}, {mode}); holder log: {log}", file=sys.stderr)
    t0 = time.monotonic()
    reply = _start_holder(spec, log)
    if not reply.get("ok"):
        raise decode_error(reply)
    status = reply["result"]
    if args.json:
        print_json({**status, "next": _next_steps(topology)})
    else:
        print(_summary(status, time.monotonic() - t0, _next_steps(topology)))
    return 0


def _start_holder(spec: dict[str, str], log: Path) -> dict[str, Any]:
    """Spawn the holder in its own session and read its one-line report; stop it if we are interrupted."""
    with open(log, "ab") as log_file:
        proc = subprocess.Popen([sys.executable, "-m", "harness.cli._holder", json.dumps(spec)],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log_file,
                                start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert proc.stdout is not None
    try:
        ready, _w, _x = select.select([proc.stdout], [], [], START_TIMEOUT_S)
        line = proc.stdout.readline() if ready else b""
    except BaseException:
        _stop(proc)  # Ctrl-C while starting: the holder tears its half-started mesh down
        raise
    finally:
        proc.stdout.close()
    if line:
        return dict(json.loads(line))
    _stop(proc)
    return {"ok": False, "type": "MeshNotReady",
            "error": f"the mesh holder gave no answer within {START_TIMEOUT_S:.0f} s or died; its log: {log}"
                     + _tail(log)}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(STOP_WAIT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, 9)
        proc.wait()


def _tail(log: Path, lines: int = 8) -> str:
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return ("; last lines: " + " | ".join(text)) if text else ""


def _next_steps(topology: Any) -> list[str]:
    """Commands worth trying next, with this topology's own first edge and service."""
    edge = sorted(topology.edges)[0] if topology.edges else "a->b"
    service = sorted(topology.services)[0]
    return ["cascade status", f"cascade inject {shlex.quote(edge)} latency ms=1000",
            f"cascade inject {shlex.quote(edge)} down", f"cascade inject {service} kill",
            "cascade heal", "cascade down"]


def _summary(st: dict[str, Any], seconds: float, steps: list[str]) -> str:
    width = max(len(s["name"]) for s in st["services"])
    lines = [colour(f"mesh {st['topology']!r} is up", "green")
             + f" ({st['runtime']}, {st['mode']}) in {seconds:.1f} s; it stays up until `cascade down`", ""]
    lines += [f"  {s['name']:<{width}}  {s['url']}" + (f"  pid {s['pid']}" if s["pid"] else "") for s in st["services"]]
    lines += ["", f"  toxiproxy API  {st['toxiproxy']['url']}  (v{st['toxiproxy']['version']}), "
                  f"{len(st['proxies'])} {'proxy' if len(st['proxies']) == 1 else 'proxies'}, one per edge", f"  logs           {st['logs']}"]
    if st.get("override"):  # compose: what Cascade changed in the user's file, said at the file's top
        lines += [f"  override       {st['override']}  (its first lines say what it changes in your compose file)"]
    lines += ["", "try:"]
    lines += [f"  {step}" for step in steps]
    return "\n".join(lines)


def register(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser(
        "up", help="start a mesh that stays up between commands",
        description="Start the topology's mesh in the background and return; `cascade down` stops it. "
                    "One mesh per topology name.",
        epilog="examples:\n  cascade up\n  cascade up --mode brittle:timeouts\n"
               "  cascade up --topology my/topology.toml --runtime compose --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    u.add_argument("--topology", default="services/topology.toml", metavar="PATH",
                   help="topology TOML (default: services/topology.toml)")
    u.add_argument("--mode", default="resilient", help="resilient (default), brittle or brittle:KNOB[,KNOB...]")
    u.add_argument("--runtime", default="local", choices=list(RUNTIMES),
                   help="local (default: processes on 127.0.0.1) or another registered runtime (compose)")
    u.add_argument("--json", action="store_true", help="machine-readable output (the status and next commands)")
    u.set_defaults(func=run)
