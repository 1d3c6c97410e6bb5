"""Every error Cascade raises, under one root, each saying what failed, why and what to do.

    HarnessError
    ├── UsageError                  bad input from a user, caught before anything starts
    │   ├── InvalidTopology         a topology declaration that cannot run
    │   ├── InvalidFault            a fault value with a bad parameter or an unknown target
    │   └── InvalidMode             a --cascade-mode naming an unknown mode or knob
    ├── ProvisionError              a real component (Toxiproxy, Redis, Docker) cannot be had
    │   └── ToxiproxyNotFound
    ├── ControlPlaneError           the harness could not drive the mesh
    │   ├── ToxiproxyError          the Toxiproxy API said no (carries status and body)
    │   │   └── ToxiproxyUnreachable
    │   ├── VerificationFailed      a write was accepted but reading it back disagrees
    │   ├── RevertFailed            a fault could not be reverted: the mesh is not at baseline
    │   └── ConfigPushError         the config service refused or failed a push/restore
    └── MeshError                   the system under test misbehaved while being run
        ├── MeshNotReady            a service never became healthy
        ├── MeshCrashed             a service exited while the mesh was up
        ├── MeshNotSettled          after a fault, the journeys did not come back to their baseline
        └── BrokenAtRest            a journey is not at its declared verdict before any fault
"""

from __future__ import annotations

from typing import Callable

__all__ = [
    "BrokenAtRest",
    "ConfigPushError",
    "ControlPlaneError",
    "HarnessError",
    "InvalidFault",
    "InvalidMode",
    "InvalidTopology",
    "MeshCrashed",
    "MeshError",
    "MeshNotReady",
    "MeshNotSettled",
    "ProvisionError",
    "RevertFailed",
    "ToxiproxyError",
    "ToxiproxyNotFound",
    "ToxiproxyUnreachable",
    "UsageError",
    "VerificationFailed",
]


class HarnessError(Exception):
    """Root of every error Cascade raises."""


class UsageError(HarnessError):
    """Bad input from the user; raised before anything is started."""


class InvalidTopology(UsageError):
    """A topology declaration that cannot run; the message names the field."""


class InvalidFault(UsageError):
    """A fault with a bad parameter or an unknown edge or service.

    Where the message shows an example, `example` keeps its parts (kind, target, parameters) so
    that a front end with another word order (`cascade inject TARGET KIND ...`) can show it in
    its own: `respelled(spell)`.
    """

    def __init__(self, message: str, *, example: tuple[str, str, str] | None = None) -> None:
        self.template, self.example = message, example
        super().__init__(message.format(example=_fault_line(*example)) if example else message)

    def respelled(self, spell: Callable[[str, str, str], str]) -> InvalidFault:
        """The same error with its example written by `spell(kind, target, params)`."""
        if self.example is None:
            return self
        return InvalidFault(self.template.format(example=spell(*self.example)))


def _fault_line(kind: str, target: str, params: str) -> str:
    """A fault as `parse_fault` reads it, kind first, quoted: 'latency timeline->media ms=2000'."""
    return "'" + " ".join(w for w in (kind, target, params) if w) + "'"


class InvalidMode(UsageError):
    """A mode string naming an unknown mode or brittle knob."""


class ProvisionError(HarnessError):
    """A real component the harness needs cannot be found or built."""


class ToxiproxyNotFound(ProvisionError):
    """No toxiproxy-server binary by any of the supported routes."""


class ControlPlaneError(HarnessError):
    """The harness could not drive the mesh's control plane."""


class ToxiproxyError(ControlPlaneError):
    """The Toxiproxy API answered with a non-2xx status."""

    def __init__(self, message: str, *, status: int | None = None, body: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class ToxiproxyUnreachable(ToxiproxyError):
    """The Toxiproxy API did not answer (refused, reset or timed out)."""


class VerificationFailed(ControlPlaneError):
    """A write was accepted but reading it back shows a different state."""


class RevertFailed(ControlPlaneError):
    """One or more faults could not be reverted; the mesh is not at its baseline."""


class ConfigPushError(ControlPlaneError):
    """The config service refused or failed a push or a restore."""


class MeshError(HarnessError):
    """The system under test misbehaved while the harness ran it."""


class MeshNotReady(MeshError):
    """A service did not become healthy within its start timeout."""


class MeshCrashed(MeshError):
    """A service process exited while the mesh was up."""


class MeshNotSettled(MeshError):
    """After a fault was reverted, the journeys did not come back to their baseline verdicts in time."""


class BrokenAtRest(MeshError):
    """Before any fault, a journey did not answer the verdict its topology expects at rest.

    Nothing is judged on such a mesh: a scenario that injects a fault and sees the journey
    fail would pass or fail for a reason that has nothing to do with the fault.
    """
