"""Cascade: reproduce cascading failures on demand, against a mesh behind real Toxiproxy."""

from .errors import (
    HarnessError,
    InvalidFault,
    InvalidTopology,
    MeshNotReady,
    RevertFailed,
    UsageError,
)
from .topology import Edge, Journey, Service, Topology, load_topology

__all__ = [
    "Edge",
    "HarnessError",
    "InvalidFault",
    "InvalidTopology",
    "Journey",
    "MeshNotReady",
    "RevertFailed",
    "Service",
    "Topology",
    "UsageError",
    "load_topology",
]
