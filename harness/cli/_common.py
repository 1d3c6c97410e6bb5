"""What every subcommand shares: one-line errors, JSON output, colour only on a terminal."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, TextIO

__all__ = ["colour", "err", "print_json"]

_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1", "dim": "2"}


def err(msg: str) -> None:
    """Print an error the way every command does: one line, prefixed, on stderr."""
    print(f"cascade: error: {msg}", file=sys.stderr)


def print_json(data: Any, out: TextIO | None = None) -> None:
    print(json.dumps(data, indent=1, sort_keys=True, default=str), file=out or sys.stdout)


def colour(text: str, name: str, stream: TextIO | None = None) -> str:
    """`text` in colour `name` only when `stream` is a terminal and NO_COLOR is unset."""
    stream = stream or sys.stdout
    if os.environ.get("NO_COLOR") or not getattr(stream, "isatty", lambda: False)():
        return text
    return f"\033[{_CODES[name]}m{text}\033[0m"
