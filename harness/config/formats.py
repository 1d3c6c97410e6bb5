"""Config documents in their own format: parse what a source holds, write a patched document back the same way (pure).

    | format | parse              | write back                                             |
    |--------|--------------------|--------------------------------------------------------|
    | json   | json.loads         | json.dumps, indented like the original if it was       |
    | yaml   | yaml.safe_load     | yaml.safe_dump, keys in their order                    |
    | toml   | tomllib.loads      | tomli_w.dumps                                          |
    | raw    | (no document)      | (a patch is refused: push raw= or document= text)      |

A document that does not parse (a bad config already in place) has no document: `parse` returns
None and says why, so a patch on it is refused with that reason instead of guessing.
"""

from __future__ import annotations

import json
import tomllib
from typing import Any

from ..errors import InvalidFault

__all__ = ["dump", "parse"]


def parse(fmt: str, data: bytes) -> tuple[Any, str]:
    """(document, "") when `data` parses as `fmt`, else (None, why)."""
    if fmt == "raw":
        return None, "a raw source has no document"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 ({exc.reason} at byte {exc.start})"
    try:
        if fmt == "json":
            return json.loads(text), ""
        if fmt == "yaml":
            import yaml

            return yaml.safe_load(text), ""
        if fmt == "toml":
            return tomllib.loads(text), ""
    except Exception as exc:  # each parser has its own error type; all mean "not a document"
        return None, f"not valid {fmt.upper()}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
    raise InvalidFault(f"unknown config format {fmt!r}")


def dump(fmt: str, document: Any, *, like: bytes = b"") -> bytes:
    """`document` written as `fmt`, laid out like `like` (the content it replaces) where the format allows."""
    if fmt == "json":
        indented = b"\n" in like.strip()
        text = json.dumps(document, indent=2 if indented else None)
        return (text + ("\n" if like.endswith(b"\n") else "")).encode()
    if fmt == "yaml":
        import yaml

        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    if fmt == "toml":
        import tomli_w

        if not isinstance(document, dict):
            raise InvalidFault(f"a TOML document is a table; cannot write a {type(document).__name__}")
        try:
            return tomli_w.dumps(document).encode()
        except TypeError as exc:  # null has no TOML form
            raise InvalidFault(f"cannot write this document as TOML ({exc}); push it as raw= text instead") from None
    raise InvalidFault(f"a {fmt} source takes whole documents only: push raw= text")
