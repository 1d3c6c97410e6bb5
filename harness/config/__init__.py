"""Config sources: where a mesh's services read their config, what BadConfig pushes through (base.py draws it)."""

from .applied import STATE_PATH, ServiceState, Unknown, abandoned_calls, consumers_applied, read_state
from .base import (
    CONFIG_SOURCES,
    Applied,
    ConfigSource,
    ConfigVersion,
    SourceFactory,
    await_applied,
    make_config_source,
    register_config_source,
)
from .http import ConfigClient, http_source
from ..builtins import load_builtins

load_builtins(__name__, __path__, first=("base", "applied", "http"))  # each other module registers a source

__all__ = [
    "Applied",
    "CONFIG_SOURCES",
    "ConfigClient",
    "ConfigSource",
    "ConfigVersion",
    "STATE_PATH",
    "ServiceState",
    "SourceFactory",
    "Unknown",
    "abandoned_calls",
    "await_applied",
    "consumers_applied",
    "http_source",
    "make_config_source",
    "read_state",
    "register_config_source",
]
