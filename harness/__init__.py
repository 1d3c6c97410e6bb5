"""Cascade: reproduce cascading failures on demand, against a mesh behind real Toxiproxy."""

from .chaos import Chaos, Scheduled, flapping
from .errors import (
    HarnessError,
    InvalidFault,
    InvalidMode,
    InvalidTopology,
    MeshNotReady,
    RevertFailed,
    UsageError,
)
from .faults import (
    BadConfig,
    Bandwidth,
    Down,
    Kill,
    Latency,
    LimitData,
    Partition,
    Pause,
    ResetPeer,
    Restart,
    Slicer,
    SlowClose,
    Timeout,
    parse_fault,
)
from .load import Load
from .mesh import Mesh
from .topology import Edge, Journey, Service, Topology, load_topology
from .verdicts import Observation

__all__ = [
    "BadConfig",
    "Bandwidth",
    "Chaos",
    "Down",
    "Edge",
    "HarnessError",
    "InvalidFault",
    "InvalidMode",
    "InvalidTopology",
    "Journey",
    "Kill",
    "Latency",
    "LimitData",
    "Load",
    "Mesh",
    "MeshNotReady",
    "Observation",
    "Partition",
    "Pause",
    "ResetPeer",
    "Restart",
    "RevertFailed",
    "Scheduled",
    "Service",
    "Slicer",
    "SlowClose",
    "Timeout",
    "Topology",
    "UsageError",
    "flapping",
    "load_topology",
    "parse_fault",
]
