"""Where Cascade keeps things between runs: the cache (builds) and the state dir (run files, logs, port locks)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

__all__ = ["cache_dir", "state_dir"]


def _xdg(env: Mapping[str, str] | None, own: str, xdg: str, default: tuple[str, ...]) -> Path:
    env = os.environ if env is None else env
    if env.get(own):
        return Path(env[own]).expanduser()
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return Path(env.get(xdg) or home.joinpath(*default)).expanduser() / "cascade"


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Cascade's cache root: $CASCADE_CACHE_DIR, else ${XDG_CACHE_HOME:-~/.cache}/cascade."""
    return _xdg(env, "CASCADE_CACHE_DIR", "XDG_CACHE_HOME", (".cache",))


def state_dir(env: Mapping[str, str] | None = None) -> Path:
    """Cascade's state root: $CASCADE_STATE_DIR, else ${XDG_STATE_HOME:-~/.local/state}/cascade."""
    return _xdg(env, "CASCADE_STATE_DIR", "XDG_STATE_HOME", (".local", "state"))
