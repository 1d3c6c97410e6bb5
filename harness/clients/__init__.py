"""Clients of real components: Toxiproxy's API, timed HTTP probes, the socket transport.

Modules: probe, toxiproxy, transport. Import names from them (or from `harness`).
"""

__all__: list[str] = []
