"""Moved to harness.explore.trial; this path keeps old imports working."""

from .explore.trial import (  # noqa: F401 - re-exported
    Check,
    RECOVERY_S,
    Step,
    Trial,
    explore_config,
    fault_line,
    fault_spec,
    run_steps,
    spec_fault,
)

__all__ = [
    "Check",
    "RECOVERY_S",
    "Step",
    "Trial",
    "explore_config",
    "fault_line",
    "fault_spec",
    "run_steps",
    "spec_fault",
]
