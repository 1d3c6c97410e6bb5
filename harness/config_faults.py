"""Moved to harness.faults.config; this path keeps old imports working."""

from .faults.config import DELETE, MALFORMED_JSON, BadConfig, apply_patch

__all__ = ["BadConfig", "DELETE", "MALFORMED_JSON", "apply_patch"]
