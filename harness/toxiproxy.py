"""Moved to harness.clients.toxiproxy; this path keeps old imports working."""

from .clients.toxiproxy import HTTPTransport, Proxy, ProxySpec, Toxic, ToxiproxyClient, Transport

__all__ = ["HTTPTransport", "Proxy", "ProxySpec", "Toxic", "ToxiproxyClient", "Transport"]
