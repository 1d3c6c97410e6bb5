"""Meshes held up between commands: where `cascade up` left one, and how later commands talk to it.

    cascade up ──spawns──> holder process (python -m harness.cli._holder)
                             owns Mesh(detached=True) + Chaos, listens on 127.0.0.1:<port>
                             writes <state_dir>/up/<topology name>.json  (this module's HeldMesh)
    cascade status|inject|heal|down ──one JSON line + token──> holder ──one JSON line──> back

One file per topology name, so only one mesh per topology is up. The holder is recorded in the
mesh's run-state file too, so `cascade cleanup --all` stops it with the rest of the mesh.
"""

from __future__ import annotations

import hmac
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import errors
from ..errors import HarnessError, MeshError, UsageError
from ..runtime.runstate import process_start_ticks

__all__ = ["HeldMesh", "MAX_LINE", "call", "claim", "decode_error", "find_held", "held_dir", "occupied", "read_line",
           "same_token"]

MAX_LINE = 1 << 20  # one request or reply; a status of a big mesh is a few KB
CALL_TIMEOUT_S = 600.0  # a Kill's heal waits for the service's health; compose can take minutes


@dataclass(frozen=True)
class HeldMesh:
    """What a later command needs to find and drive a mesh that `cascade up` left running."""

    name: str
    topology: str  # absolute path of the topology file
    runtime: str
    mode: str
    holder_pid: int
    holder_ticks: int
    port: int
    token: str
    state: str = "starting"  # starting | up
    run_id: str = ""
    started: str = ""

    @property
    def holder_alive(self) -> bool:
        return process_start_ticks(self.holder_pid) == self.holder_ticks

    def save(self, path: Path) -> None:
        """Write atomically, readable by the user only (the token drives the mesh)."""
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(asdict(self), indent=1))
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> HeldMesh:
        return cls(**json.loads(path.read_text()))


def held_dir(state_dir: Path) -> Path:
    return state_dir / "up"


def occupied(state_dir: Path, name: str) -> str:
    """Why topology `name` cannot be brought up now ('' if it can); forgets a mesh that is gone."""
    path = held_dir(state_dir) / f"{name}.json"
    try:
        h = HeldMesh.load(path)
    except FileNotFoundError:
        return ""
    except (OSError, ValueError, TypeError):
        path.unlink(missing_ok=True)
        return ""
    if h.holder_alive:
        return (f"mesh {name!r} is already up (holder pid {h.holder_pid}, since {h.started or 'just now'}); "
                f"stop it with `cascade down --topology {h.topology}`")
    if (state_dir / "runs" / h.run_id / "state.json").exists():
        return (f"mesh {name!r} was left running by a holder that died (pid {h.holder_pid}); "
                f"stop it with `cascade down --topology {h.topology}`")
    path.unlink(missing_ok=True)
    return ""


def claim(state_dir: Path, held: HeldMesh) -> Path:
    """Write `held` as the one mesh of its topology, atomically; UsageError if one is up already."""
    why = occupied(state_dir, held.name)
    if why:
        raise UsageError(why)
    path = held_dir(state_dir) / f"{held.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    held.save(tmp)
    try:
        os.link(tmp, path)  # fails if another `up` got there first: exclusive, and never half-written
    except FileExistsError:
        raise UsageError(occupied(state_dir, held.name) or f"mesh {held.name!r} is being brought up by another "
                         f"`cascade up`") from None
    finally:
        tmp.unlink(missing_ok=True)
    return path


def find_held(state_dir: Path, name: str | None = None, *, any_state: bool = False) -> tuple[HeldMesh, Path]:
    """The one mesh that is up (or the one of topology `name`); a one-line error with the fix otherwise.

    With `any_state` (for `cascade down`) a mesh still starting, or whose holder died, is returned too.
    """
    held = []
    for path in sorted(held_dir(state_dir).glob("*.json")):
        try:
            h = HeldMesh.load(path)
        except (OSError, ValueError, TypeError):
            path.unlink(missing_ok=True)  # unreadable: nothing could drive it
            continue
        if not h.holder_alive and not (state_dir / "runs" / h.run_id / "state.json").exists():
            path.unlink(missing_ok=True)  # its mesh was stopped (`cascade cleanup --all`): forget it
            continue
        if name is None or h.name == name:
            held.append((h, path))
    if not held:
        which = f"for topology {name!r} " if name else ""
        raise UsageError(f"no mesh is up {which}(state dir {state_dir}); start one with `cascade up`")
    if len(held) > 1:
        names = ", ".join(h.name for h, _p in held)
        raise UsageError(f"{len(held)} meshes are up ({names}); choose one with --topology PATH")
    h, path = held[0]
    if any_state:
        return h, path
    if not h.holder_alive:
        raise MeshError(f"the process holding mesh {h.name!r} (pid {h.holder_pid}) has died; "
                        f"`cascade down` stops what it left")
    if h.state != "up":
        raise UsageError(f"mesh {h.name!r} is still starting (holder pid {h.holder_pid}); try again in a moment")
    return h, path


def call(held: HeldMesh, op: str, timeout_s: float = CALL_TIMEOUT_S, **args: Any) -> Any:
    """Ask the holder to do `op`; its answer, or its error raised here as the same HarnessError class."""
    try:
        with socket.create_connection(("127.0.0.1", held.port), timeout=timeout_s) as s:
            s.sendall(json.dumps({"token": held.token, "op": op, "args": args}).encode() + b"\n")
            line = read_line(s)
    except OSError as exc:
        raise MeshError(f"the holder of mesh {held.name!r} (pid {held.holder_pid}, 127.0.0.1:{held.port}) did not "
                        f"answer {op!r}: {exc.strerror or exc}; `cascade down` stops the mesh") from None
    reply = json.loads(line)
    if not reply.get("ok"):
        raise decode_error(reply)
    return reply.get("result")


def decode_error(reply: dict[str, Any]) -> HarnessError:
    """The holder's error as the HarnessError subclass it named (HarnessError if it named none)."""
    cls = getattr(errors, str(reply.get("type", "")), HarnessError)
    if not (isinstance(cls, type) and issubclass(cls, HarnessError)):
        cls = HarnessError
    return cls(str(reply.get("error", "the holder failed without a message")))


def read_line(s: socket.socket) -> bytes:
    """One newline-terminated message of at most MAX_LINE bytes; OSError if the peer closed early."""
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed before a whole message arrived")
        buf += chunk
        if len(buf) > MAX_LINE:
            raise ConnectionError(f"message longer than {MAX_LINE} bytes")
    return buf


def same_token(given: object, token: str) -> bool:
    return isinstance(given, str) and hmac.compare_digest(given.encode(), token.encode())
