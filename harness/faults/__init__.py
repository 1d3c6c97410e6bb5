"""The fault vocabulary: pure, validated values that `Chaos` applies to a running mesh, verified, and always reverts.

    fault                                                    module
    ├── network: one edge's Toxiproxy proxy ("caller->callee")   faults/network.py
    │   ├── toxic faults  Latency · Bandwidth · SlowClose · Timeout · ResetPeer · Slicer · LimitData
    │   ├── Down          the proxy disabled: connection refused
    │   └── Partition     Down on every edge into and out of a service
    ├── process: one service                                     faults/process.py
    │   └── Kill · Pause · Restart
    └── config: a document pushed to the config service          faults/config.py
        └── BadConfig(document= | patch= | raw=), apply_patch, DELETE

Every kind implements the interface in faults/base.py (`FaultKind`: validate, apply and its
verified undo, targets, drain, CLI usage, exploration draw) and is registered by name in
`FAULT_KINDS`, the only dispatch: `fault_from_spec(f.kind, f.target, **f.params()) == f`.
"""

from __future__ import annotations

from typing import Any

from ..builtins import load_builtins
from .base import (
    FAULT_KINDS, DrawContext, Fault, FaultKind, ServiceFault, Undo, check_service, check_service_name, fault_from_spec,
    kinds_in_family, register_fault_kind, unregister_fault_kind,
)  # fmt: skip
from .network import (
    BANDWIDTH_PIECE_S, DIRECTIONS, DRAIN_MARGIN_S, IN_FLIGHT_BYTES, TOXIC_PREFIX, Bandwidth, Down, EdgeFault,
    Latency, LimitData, Partition, ResetPeer, Slicer, SlowClose, Timeout, ToxicFault,
)  # fmt: skip
from .process import Kill, Pause, ProcessFault, Restart
from .config import DELETE, MALFORMED_JSON, BadConfig, apply_patch  # noqa: I001 - registration order: network, process, config
from .parse import parse_fault
from .http import HttpDelay, HttpError, HttpFault, HttpReplace  # noqa: I001 - after the TCP kinds: registration order

__all__ = [
    "BANDWIDTH_PIECE_S", "BadConfig", "Bandwidth", "DELETE", "DIRECTIONS", "DRAIN_MARGIN_S", "Down",
    "DrawContext", "EdgeFault", "FAULT_KINDS", "Fault", "FaultKind", "HttpDelay", "HttpError", "HttpFault", "HttpReplace", "IN_FLIGHT_BYTES", "Kill",
    "Latency", "LimitData", "MALFORMED_JSON", "Partition", "Pause", "ProcessFault", "ResetPeer", "Restart",
    "ServiceFault", "Slicer", "SlowClose", "TOXIC_PREFIX", "Timeout", "ToxicFault", "Undo", "apply_patch",
    "check_service", "check_service_name", "drain_s", "fault_from_spec", "kinds_in_family", "parse_fault",
    "register_fault_kind", "unregister_fault_kind",
]  # fmt: skip


# Every other module of this package is a kind (or kinds) too, and registers itself on import.
load_builtins(__name__, __path__, first=("base", "network", "process", "config", "parse", "http"))


def drain_s(fault: Any) -> float:
    """How long after the last request through `fault` it may still hold data (see `ToxicFault.drain_s`)."""
    return fault.drain_s()
