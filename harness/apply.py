"""How each kind of fault is applied to a running mesh and undone, every step verified (the I/O shell).

    network fault  -> add its toxics to the edge's proxy        undo: remove exactly those toxics
    Down           -> disable the edge's proxy                  undo: enable it
    Partition      -> disable every proxy into and out of it    undo: enable them
    Kill           -> SIGKILL the service (its process group)   undo: start it again, wait for health
    Pause          -> SIGSTOP                                   undo: SIGCONT
    Restart        -> restart and wait for health               undo: check it is running
    BadConfig      -> push a document to the config service     undo: roll back to the version before

Each `apply_fault` returns the undo as a callable; both raise on any disagreement with the
real state (Toxiproxy read-back, /proc state, config version), never silently.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Callable

from .errors import InvalidFault, VerificationFailed

if TYPE_CHECKING:
    from .mesh import Mesh

__all__ = ["apply_fault"]

Undo = Callable[[], None]


def apply_fault(mesh: Mesh, fault: Any) -> Undo:
    """Apply `fault` to `mesh` (verified) and return the verified undo."""
    kind = fault.kind
    if getattr(fault, "disables_proxy", False):  # Down, Partition: checked first, they have no toxics
        return _disable(mesh, fault.edges(mesh.topology))
    if fault.category == "network":
        return _toxics(mesh, fault)
    if kind == "kill":
        return _kill(mesh, fault.service)
    if kind == "pause":
        return _pause(mesh, fault.service)
    if kind == "restart":
        return _restart(mesh, fault.service)
    if kind == "bad_config":
        return _bad_config(mesh, fault)
    raise InvalidFault(f"the harness does not know how to apply a {type(fault).__name__} (kind {kind!r})")


def _toxics(mesh: Mesh, fault: Any) -> Undo:
    (edge,) = fault.edges(mesh.topology)
    added = []
    try:
        for toxic in fault.toxics():
            mesh.toxiproxy.add_toxic(edge, toxic)
            added.append(toxic.name)
    except BaseException:
        for name in added:  # never leave half a fault behind
            mesh.toxiproxy.remove_toxic(edge, name)
        raise

    def undo() -> None:
        for name in added:
            mesh.toxiproxy.remove_toxic(edge, name)

    return undo


def _disable(mesh: Mesh, edges: tuple[str, ...]) -> Undo:
    # Several faults may cut one edge (a Down inside a Partition, possibly on two threads): the
    # mesh counts cuts per edge, and only the first cut disables and the last undo enables.
    done: list[str] = []
    try:
        for edge in edges:
            mesh.cut(edge)
            done.append(edge)
    except BaseException:
        for edge in reversed(done):
            mesh.uncut(edge)
        raise

    def undo() -> None:
        for edge in reversed(done):
            mesh.uncut(edge)

    return undo


def _kill(mesh: Mesh, service: str) -> Undo:
    rt = mesh.runtime
    rt.kill(service)
    if rt.is_running(service):
        raise VerificationFailed(f"{service} is still running after SIGKILL")

    def undo() -> None:
        rt.restart(service, ready=False)  # whether it gets healthy again is for the recovery check to judge
        if not rt.is_running(service):
            raise VerificationFailed(f"{service} did not come back after the Kill fault ended")

    return undo


def _pause(mesh: Mesh, service: str) -> Undo:
    rt = mesh.runtime
    rt.pause(service)
    # Signals are delivered asynchronously: the state in /proc changes a moment after kill().
    if not _eventually(lambda: rt.is_paused(service)):
        rt.resume(service)  # never leave half a fault behind
        raise VerificationFailed(f"{service} is not stopped {STATE_WAIT_S:.0f} s after SIGSTOP")

    def undo() -> None:
        rt.resume(service)
        if not _eventually(lambda: not rt.is_paused(service)):
            raise VerificationFailed(f"{service} is still stopped {STATE_WAIT_S:.0f} s after SIGCONT")

    return undo


STATE_WAIT_S = 2.0


def _eventually(condition: Callable[[], bool], timeout_s: float = STATE_WAIT_S) -> bool:
    """Poll `condition` every millisecond until true or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


def _restart(mesh: Mesh, service: str) -> Undo:
    mesh.runtime.restart(service, ready=False)  # answering; what it serves while starting is the fault's effect

    def undo() -> None:
        if not mesh.runtime.is_running(service):
            raise VerificationFailed(f"{service} is not running after its Restart fault")

    return undo


def _bad_config(mesh: Mesh, fault: Any) -> Undo:
    from .faults import apply_patch  # faults is pure; imported here to keep this module's import light

    client = mesh.config()
    before = client.current()
    if fault.raw is not None:
        raw = fault.raw
    elif fault.document is not None:
        raw = json.dumps(fault.document)
    else:
        if not isinstance(before.document, dict):
            raise InvalidFault(
                f"BadConfig patch needs the current config to be a JSON object, but version {before.version} is not"
            )
        raw = json.dumps(apply_patch(before.document, fault.patch))
    client.push(raw, note=f"cascade: {fault.describe()}")

    def undo() -> None:
        client.rollback(before.version, expect_raw=before.raw)

    return undo
