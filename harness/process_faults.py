"""Moved to harness.faults.process; this path keeps old imports working."""

from .faults.process import Kill, Pause, ProcessFault, Restart, check_service, check_service_name

__all__ = ["Kill", "Pause", "ProcessFault", "Restart", "check_service", "check_service_name"]
