"""Moved to harness.clients.probe; this path keeps old imports working."""

from .clients.probe import Response, http_request, tcp_open

__all__ = ["Response", "http_request", "tcp_open"]
