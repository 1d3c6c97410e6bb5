"""Process faults: kill, pause or restart one service of the mesh, as pure values the runtime acts on.

    fault         local runtime                    compose runtime      on revert
    Kill          SIGKILL                          docker kill          start it again, wait for health
    Pause         SIGSTOP                          docker pause         SIGCONT / docker unpause
    Restart       stop, start (one shot)           docker restart       nothing to undo; wait for health
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

from ..errors import VerificationFailed
from .base import DrawContext, ServiceFault, Undo, check_service, check_service_name, register_fault_kind

if TYPE_CHECKING:
    from ..mesh import Mesh
    from ..topology import Topology

__all__ = ["Kill", "Pause", "ProcessFault", "Restart", "STATE_WAIT_S", "check_service", "check_service_name"]

STATE_WAIT_S = 2.0
"""How long a signal may take to show in the process state (delivery is asynchronous)."""


def _eventually(condition: Callable[[], bool], timeout_s: float = STATE_WAIT_S) -> bool:
    """Poll `condition` every millisecond until true or `timeout_s` passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.001)
    return True


@dataclass(frozen=True)
class ProcessFault(ServiceFault):
    """A fault on one service's process as a whole; a new process kind derives from this."""

    kind: ClassVar[str] = ""
    category: ClassVar[str] = "process"
    signal: ClassVar[str | None] = None
    """The signal the local runtime sends to inject the fault (None: a stop-and-start)."""
    revert_signal: ClassVar[str | None] = None
    """The signal that undoes it (None: the runtime starts the service or just awaits its health)."""

    def edges(self, topology: Topology) -> tuple[str, ...]:
        """No proxy changes; a journey crossing any edge into the service is hit through `services`."""
        self.validate(topology)
        return ()

    def exclusive_key(self, config_service: str | None = None) -> tuple[str, str]:
        """One service's process takes one process fault at a time."""
        return ("process", self.service)

    def closes_connections(self, edge: str) -> bool:
        return True  # a stopped, killed or restarting process drops its connections, whichever edge

    @classmethod
    def draw(cls, ctx: DrawContext) -> list[Any]:
        return [cls(s) for s in sorted(ctx.topology.services)]


@register_fault_kind
@dataclass(frozen=True)
class Kill(ProcessFault):
    """The service killed outright (SIGKILL: no shutdown hooks); the runtime restarts it when the fault ends."""

    kind: ClassVar[str] = "kill"
    signal: ClassVar[str | None] = "SIGKILL"

    def apply(self, mesh: Mesh) -> Undo:
        rt, service = mesh.runtime, self.service
        rt.kill(service)
        if rt.is_running(service):
            raise VerificationFailed(f"{service} is still running after SIGKILL")

        def undo() -> None:
            rt.restart(service, ready=False)  # whether it gets healthy again is for the recovery check to judge
            if not rt.is_running(service):
                raise VerificationFailed(f"{service} did not come back after the Kill fault ended")

        return undo


@register_fault_kind
@dataclass(frozen=True)
class Pause(ProcessFault):
    """The service frozen (SIGSTOP; `docker pause` in compose): connections open, nothing answers."""

    kind: ClassVar[str] = "pause"
    signal: ClassVar[str | None] = "SIGSTOP"
    revert_signal: ClassVar[str | None] = "SIGCONT"
    freezes_service: ClassVar[bool] = True

    def apply(self, mesh: Mesh) -> Undo:
        rt, service = mesh.runtime, self.service
        rt.pause(service)
        # Signals are delivered asynchronously: the process state changes a moment after kill().
        if not _eventually(lambda: rt.is_paused(service)):
            rt.resume(service)  # never leave half a fault behind
            raise VerificationFailed(f"{service} is not stopped {STATE_WAIT_S:.0f} s after SIGSTOP")

        def undo() -> None:
            rt.resume(service)
            if not _eventually(lambda: not rt.is_paused(service)):
                raise VerificationFailed(f"{service} is still stopped {STATE_WAIT_S:.0f} s after SIGCONT")

        return undo


@register_fault_kind
@dataclass(frozen=True)
class Restart(ProcessFault):
    """A one-shot restart; reverting it is a no-op once the service is healthy again."""

    kind: ClassVar[str] = "restart"

    def apply(self, mesh: Mesh) -> Undo:
        rt, service = mesh.runtime, self.service
        rt.restart(service, ready=False)  # answering; what it serves while starting is the fault's effect

        def undo() -> None:
            if not rt.is_running(service):
                raise VerificationFailed(f"{service} is not running after its Restart fault")

        return undo
