"""Moved to harness.clients.transport; this path keeps old imports working."""

from .clients.transport import HTTPTransport, Transport

__all__ = ["HTTPTransport", "Transport"]
