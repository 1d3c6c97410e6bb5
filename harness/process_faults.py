"""Process faults: kill, pause or restart one service of the mesh, as pure values the runtime acts on.

    fault         local runtime                    compose runtime      on revert
    Kill          SIGKILL                          docker kill          start it again, wait for health
    Pause         SIGSTOP                          docker pause         SIGCONT / docker unpause
    Restart       stop, start (one shot)           docker restart       nothing to undo; wait for health
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .errors import InvalidFault, InvalidTopology
from .topology import Topology

__all__ = ["Kill", "Pause", "Restart", "check_service", "check_service_name"]


def check_service_name(owner: str, value: object) -> str:
    """`value` stripped, if it can be a service name; else InvalidFault naming `owner`."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() or c in "<>" for c in value.strip()):
        raise InvalidFault(f"{owner}.service must be a service name like 'timeline', got {value!r}")
    return value.strip()


def check_service(topology: Topology, name: str) -> None:
    """InvalidFault listing the services that exist when `name` is not one of them."""
    try:
        topology.service(name)
    except InvalidTopology as exc:
        raise InvalidFault(str(exc)) from None


@dataclass(frozen=True)
class _ProcessFault:
    service: str

    kind: ClassVar[str] = ""
    category: ClassVar[str] = "process"
    signal: ClassVar[str | None] = None
    """The signal the local runtime sends to inject the fault (None: a stop-and-start)."""
    revert_signal: ClassVar[str | None] = None
    """The signal that undoes it (None: the runtime starts the service or just awaits its health)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", check_service_name(type(self).__name__, self.service))

    @property
    def target(self) -> str:
        return self.service

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return f"{type(self).__name__}({self.service})"

    def validate(self, topology: Topology) -> None:
        check_service(topology, self.service)

    def edges(self, topology: Topology) -> tuple[str, ...]:
        """No proxy changes; a journey crossing any edge into the service is hit through `services`."""
        self.validate(topology)
        return ()

    def services(self, topology: Topology) -> tuple[str, ...]:
        self.validate(topology)
        return (self.service,)


@dataclass(frozen=True)
class Kill(_ProcessFault):
    """The service killed outright (SIGKILL: no shutdown hooks); the runtime restarts it when the fault ends."""

    kind: ClassVar[str] = "kill"
    signal: ClassVar[str | None] = "SIGKILL"


@dataclass(frozen=True)
class Pause(_ProcessFault):
    """The service frozen (SIGSTOP; `docker pause` in compose): connections open, nothing answers."""

    kind: ClassVar[str] = "pause"
    signal: ClassVar[str | None] = "SIGSTOP"
    revert_signal: ClassVar[str | None] = "SIGCONT"


@dataclass(frozen=True)
class Restart(_ProcessFault):
    """A one-shot restart; reverting it is a no-op once the service is healthy again."""

    kind: ClassVar[str] = "restart"
