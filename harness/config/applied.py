"""Client of the applied-version protocol (docs/service-protocol.md): what a service says it applied and gave up on.

    GET /cascade/v1/state -> 200 {"service", "config_version", "config_rejected", "calls_abandoned", "calls_sent"}

Every field is optional; a service that does not serve the path (or a field) leaves the harness
unable to know that thing, and the functions here say so instead of guessing: `read_state`
returns `Unknown` with the reason, `consumers_applied` lists the service under `unknown`, and
`abandoned_calls` and `calls_sent` return None (the caller then assumes the worst, or says it
cannot judge).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from .base import Applied

if TYPE_CHECKING:
    from .base import Mesh

__all__ = ["STATE_PATH", "ServiceState", "Unknown", "abandoned_calls", "calls_sent", "consumers_applied",
           "parse_state", "read_state"]

STATE_PATH = "/cascade/v1/state"
STATE_TIMEOUT_S = 2.0
log = logging.getLogger("cascade")


@dataclass(frozen=True)
class ServiceState:
    """What one service reported at GET /cascade/v1/state (None where it left a field out)."""

    service: str
    config_version: int | None = None  # None (null or left out): it reads no config
    config_rejected: tuple[int, ...] = ()
    calls_abandoned: Mapping[str, int] | None = None  # callee -> calls given up on; None: does not say
    calls_sent: Mapping[str, int] | None = None  # callee -> calls (attempts, retries included) sent; None: does not say


@dataclass(frozen=True)
class Unknown:
    """Why the harness cannot know a service's state."""

    service: str
    why: str


def parse_state(service: str, status: int | None, body: bytes, error: str = "") -> ServiceState | Unknown:
    """The state in one answer to GET /cascade/v1/state, or why it cannot be known (pure)."""
    if status is None:
        return Unknown(service, f"did not answer GET {STATE_PATH}: {error or 'no response'}")
    if status != 200:
        return Unknown(service, f"does not speak the applied-version protocol: GET {STATE_PATH} answered {status}")
    try:
        data: Any = json.loads(body)
    except ValueError:
        return Unknown(service, f"GET {STATE_PATH} answered a body that is not JSON: {body[:80]!r}")
    if not isinstance(data, dict):
        return Unknown(service, f"GET {STATE_PATH} answered {type(data).__name__}, not a JSON object")
    version = data.get("config_version")
    rejected = data.get("config_rejected", [])
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        return Unknown(service, f"GET {STATE_PATH}: config_version must be an integer or null, got {version!r}")
    if not isinstance(rejected, list) or any(isinstance(v, bool) or not isinstance(v, int) for v in rejected):
        return Unknown(service, f"GET {STATE_PATH}: config_rejected must be a list of integers, got {rejected!r}")
    counts: dict[str, Mapping[str, int] | None] = {}
    for field in ("calls_abandoned", "calls_sent"):
        value = data.get(field)
        if value is not None and (not isinstance(value, dict) or any(
                isinstance(n, bool) or not isinstance(n, int) for n in value.values())):
            return Unknown(service, f"GET {STATE_PATH}: {field} must map callee to an integer, got {value!r}")
        counts[field] = None if value is None else {str(k): int(v) for k, v in value.items()}
    return ServiceState(service, version, tuple(rejected), counts["calls_abandoned"], counts["calls_sent"])


def read_state(mesh: Mesh, service: str) -> ServiceState | Unknown:
    """Ask `service` for its state (one request, never raising)."""
    r = mesh.request(service, "GET", STATE_PATH, timeout_s=STATE_TIMEOUT_S)
    return parse_state(service, r.status, r.body, r.error)


def consumers_applied(mesh: Mesh, version: int, *, source_service: str = "",
                      consumers: tuple[str, ...] | None = None) -> Applied:
    """One reading of the consumers (default: every HTTP service but the source): who runs `version`, is behind, rejected it, cannot say."""
    running, rejected = [], []
    behind: dict[str, int] = {}
    unknown: dict[str, str] = {}
    for name, svc in mesh.topology.services.items():
        if not svc.http or name == source_service or (consumers is not None and name not in consumers):
            continue  # a TCP service (a datastore) reads no config; the source serves it
        state = read_state(mesh, name)
        if isinstance(state, Unknown):
            unknown[name] = state.why
        elif version in state.config_rejected:
            rejected.append(name)
        elif state.config_version is None:
            continue  # says it reads no config
        elif state.config_version < version:
            behind[name] = state.config_version
        else:
            running.append(name)
    return Applied(version, tuple(running), behind, tuple(rejected), unknown)


def abandoned_calls(mesh: Mesh, caller: str, callee: str) -> int | None:
    """How many calls to `callee` `caller` has given up on so far (timed out or cancelled); None when it cannot say."""
    state = read_state(mesh, caller)
    if isinstance(state, Unknown):
        why = state.why
    elif state.calls_abandoned is None:
        why = f"its GET {STATE_PATH} has no calls_abandoned"
    else:
        return state.calls_abandoned.get(callee, 0)
    log.warning("cannot know whether %s gave up on calls to %s (%s); assuming it did", caller, callee, why)
    return None


def calls_sent(mesh: Mesh, caller: str) -> Mapping[str, int] | Unknown:
    """Per callee, the calls `caller` has sent so far (retries included), or why it cannot be known."""
    state = read_state(mesh, caller)
    if isinstance(state, Unknown):
        return state
    if state.calls_sent is None:
        return Unknown(caller, f"its GET {STATE_PATH} has no calls_sent")
    return state.calls_sent
