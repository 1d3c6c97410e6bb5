"""Clients of real components: Toxiproxy's API, the Envoy HTTP fault engine, etcd's v3 JSON gateway,
timed HTTP probes, the socket transport.

Modules: envoy, etcd, probe, toxiproxy, transport. Import names from them (or from `harness`).
"""

__all__: list[str] = []
