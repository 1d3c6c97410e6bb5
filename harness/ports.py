"""Moved to harness.runtime.ports; this path keeps old imports working."""

from .runtime.ports import PortLease, lease_ports

__all__ = ["PortLease", "lease_ports"]
