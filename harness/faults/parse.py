"""Faults from words: one CLI line (`kind target name=value ...`) to a fault value, through the registry."""

from __future__ import annotations

import json
import shlex
from typing import Any

from ..errors import InvalidFault
from .base import fault_from_spec

__all__ = ["parse_fault"]


def parse_fault(text: str) -> Any:
    """A fault from one CLI line: `kind target name=value ...`, e.g. "latency timeline->media ms=2000".

    Values are read as JSON when they parse (2000, 0.5, true, "quoted") and as text otherwise.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidFault(f"cannot read fault {text!r}: {exc}") from None
    if not words:
        raise InvalidFault("an empty fault; write e.g. {example}", example=("latency", "timeline->media", "ms=2000"))
    target: list[str] = []
    params: dict[str, Any] = {}
    for word in words[1:]:
        name, eq, value = word.partition("=")
        if not eq:
            if params:
                raise InvalidFault(f"{text!r}: {word!r} comes after the parameters; write parameters as name=value")
            target.append(word)  # "timeline -> media" arrives as three words
        elif not name.isidentifier() or name in params:
            raise InvalidFault(f"{text!r}: {word!r} is not a new parameter name=value")
        else:
            try:
                params[name] = json.loads(value)
            except ValueError:
                params[name] = value
    return fault_from_spec(words[0], " ".join(target), **params)


