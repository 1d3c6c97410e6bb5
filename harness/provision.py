"""Moved to harness.runtime.provision; this path keeps old imports working."""

from .runtime.provision import (  # noqa: F401 - re-exported
    TOXIPROXY_VERSION,
    ToxiproxyBinary,
    cache_dir,
    describe_toxiproxy,
    doctor_report,
    find_toxiproxy,
    lock_rows,
    not_found_message,
    parse_version,
    run_tool,
    server_version,
    toxiproxy_cache,
)

__all__ = [
    "TOXIPROXY_VERSION",
    "ToxiproxyBinary",
    "cache_dir",
    "describe_toxiproxy",
    "doctor_report",
    "find_toxiproxy",
    "lock_rows",
    "not_found_message",
    "parse_version",
    "run_tool",
    "server_version",
    "toxiproxy_cache",
]
