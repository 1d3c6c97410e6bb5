"""Moved: each fault kind applies itself (`Fault.apply`, harness/faults/); this path keeps old imports working."""

from .faults.base import Undo, apply_fault
from .faults.process import STATE_WAIT_S

__all__ = ["STATE_WAIT_S", "Undo", "apply_fault"]
