"""Moved to harness.runtime.runstate; this path keeps old imports working."""

from .runtime.runstate import (  # noqa: F401 - re-exported
    ProcessRecord,
    RunRecord,
    kill_group,
    process_start_ticks,
    reap_leftovers,
    reap_run,
    register_reaper,
)

__all__ = [
    "ProcessRecord",
    "RunRecord",
    "kill_group",
    "process_start_ticks",
    "reap_leftovers",
    "reap_run",
    "register_reaper",
]
