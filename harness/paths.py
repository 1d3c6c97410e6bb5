"""Where Cascade keeps state between runs: the cache (builds) and the state dir (run files, logs, port locks)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir", "state_dir"]


def cache_dir(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """`$CASCADE_CACHE_DIR`, else `${XDG_CACHE_HOME:-~/.cache}/cascade`."""
    env = os.environ if env is None else env
    if env.get("CASCADE_CACHE_DIR"):
        return Path(env["CASCADE_CACHE_DIR"])
    return Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cascade"


def state_dir(env: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """`$CASCADE_STATE_DIR`, else `${XDG_STATE_HOME:-~/.local/state}/cascade`."""
    env = os.environ if env is None else env
    if env.get("CASCADE_STATE_DIR"):
        return Path(env["CASCADE_STATE_DIR"])
    return Path(env.get("XDG_STATE_HOME") or Path.home() / ".local" / "state") / "cascade"
