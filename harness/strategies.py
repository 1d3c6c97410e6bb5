"""Moved to harness.explore.strategies; this path keeps old imports working."""

from .explore.strategies import (  # noqa: F401 - re-exported
    BAD_CONFIG_KINDS,
    EDGE_FAULT_KINDS,
    FAULT_FAMILY_WEIGHTS,
    PROCESS_FAULT_KINDS,
    bad_configs,
    config_leaves,
    edge_faults,
    fault_key,
    faults,
    horizon_ms,
    process_faults,
    schedules,
)

__all__ = [
    "BAD_CONFIG_KINDS",
    "EDGE_FAULT_KINDS",
    "FAULT_FAMILY_WEIGHTS",
    "PROCESS_FAULT_KINDS",
    "bad_configs",
    "config_leaves",
    "edge_faults",
    "fault_key",
    "faults",
    "horizon_ms",
    "process_faults",
    "schedules",
]
