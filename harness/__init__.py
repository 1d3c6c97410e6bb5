"""Cascade: reproduce cascading failures on demand, against a mesh behind real Toxiproxy."""

from .chaos import Chaos, Scheduled, flapping
from .errors import (
    BrokenAtRest,
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
    HttpDelay,
    HttpError,
    HttpReplace,
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
from .observe.load import Load
from .mesh import Mesh
from .topology import Edge, Journey, Service, Topology, load_topology
from .judge.verdicts import Observation

__all__ = [
    "BadConfig",
    "Bandwidth",
    "BrokenAtRest",
    "Chaos",
    "Down",
    "Edge",
    "HarnessError",
    "HttpDelay",
    "HttpError",
    "HttpReplace",
    "InvalidFault",
    "InvalidMode",
    "InvalidTopology",
    "Journal",
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
    "Step",
    "Timeout",
    "Topology",
    "UsageError",
    "flapping",
    "load_topology",
    "parse_fault",
    "run_steps",
]

# What an emitted scenario and a journal replay need, imported on first use: they pull in the
# explorer's machinery (Hypothesis), which `import harness` (and so every pytest run) need not load.
_LAZY = {"Journal": "explore.journal", "Step": "explore.trial", "run_steps": "explore.trial"}


def __getattr__(name: str) -> object:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
