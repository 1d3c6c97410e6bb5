"""A service's start-up environment, read once and checked (pure: it reads a mapping, not os.environ)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from .errors import StartupError
from .knobs import Knobs, knobs_from_env

__all__ = ["ServiceEnv", "load_env"]


@dataclass(frozen=True)
class ServiceEnv:
    """Who this service is, where it listens, its mode, and where each dependency is (through its proxy)."""

    name: str
    host: str
    port: int
    knobs: Knobs
    deps: Mapping[str, str] = field(default_factory=dict)
    config_token: str = field(default="", repr=False)  # never printed
    data_dir: str = ""  # CASCADE_DATA_DIR: where state that must survive a restart lives (a volume); "" = none


def load_env(environ: Mapping[str, str], name: str, deps: tuple[str, ...] = (), *,
             needs_token: bool = False) -> ServiceEnv:
    """Read HOST, PORT, the mode and one <DEP>_URL per dependency; anything missing is a StartupError."""
    host = environ.get("HOST", "127.0.0.1")
    raw_port = environ.get("PORT", "")
    if not raw_port.isdecimal() or not 0 < int(raw_port) < 65536:
        raise StartupError(f"{name}: PORT must be a port number, got {raw_port!r}")
    urls = {}
    for dep in deps:
        var = f"{dep.upper()}_URL"
        if not environ.get(var):
            raise StartupError(f"{name}: {var} is not set; it must carry {dep}'s address (its proxy)")
        urls[dep] = environ[var].rstrip("/")
    token = environ.get("CASCADE_CONFIG_TOKEN", "")
    if needs_token and not token:
        raise StartupError(f"{name}: CASCADE_CONFIG_TOKEN is not set; config pushes could not be authorised")
    service = environ.get("CASCADE_SERVICE") or name
    return ServiceEnv(service, host, int(raw_port), knobs_from_env(environ), urls, token,
                      environ.get("CASCADE_DATA_DIR", ""))
