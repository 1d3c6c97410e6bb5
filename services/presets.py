"""Ready-made bad config documents for Chirp's schema, from history and from the usual mistakes.

Each returns a JSON-able dict (push it with `BadConfig(document=...)`) or, for `malformed`, raw
text (`BadConfig(raw=...)`). Each starts from `base` (default: the good default document) and
never changes it.

    end_free_api_access   March 2023: "free" removed from every endpoint of the entitlement rules
                          (the etcd source "entitlements"); valid, so it is applied, and under
                          entitlement coupling first-party and internal callers go with it
    delete_rate_limits    February 2023: the rate_limits section removed; invalid
    zero_timeout, zero_rate_limit, wrong_type, missing_section, malformed: invalid, each its own way
"""

from __future__ import annotations

import copy
import json
from typing import Any

from services.common.config_default import default_document, default_entitlements

__all__ = [
    "delete_rate_limits",
    "end_free_api_access",
    "malformed",
    "missing_section",
    "out_of_range",
    "wrong_type",
    "zero_rate_limit",
    "zero_timeout",
]


def _start(base: dict[str, Any] | None) -> dict[str, Any]:
    return copy.deepcopy(base) if base is not None else default_document()


def end_free_api_access(base: dict[str, Any] | None = None) -> dict[str, Any]:
    """Remove the "free" plan from every endpoint of the entitlement rules (`base`, default the built-in ones)."""
    doc = copy.deepcopy(base) if base is not None else default_entitlements()
    access = doc["plans"]["endpoint_access"]
    for endpoint, plans in access.items():
        access[endpoint] = [p for p in plans if p != "free"]
    return doc


def delete_rate_limits(base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole rate_limits section deleted."""
    return missing_section("rate_limits", base)


def missing_section(section: str, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """A top-level section (rate_limits, features, timeouts_ms, retry, breaker) removed."""
    doc = _start(base)
    if section not in doc:
        raise KeyError(f"no section {section!r}; sections are: {', '.join(doc)}")
    del doc[section]
    return doc


def out_of_range(path: str, value: Any, base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The value at dotted `path` replaced by a well-typed but out-of-range `value`."""
    return _set(_start(base), path, value)


def zero_timeout(dependency: str = "timeline", base: dict[str, Any] | None = None) -> dict[str, Any]:
    """timeouts_ms.<dependency> = 0: every call to it would time out at once."""
    return out_of_range(f"timeouts_ms.{dependency}", 0, base)


def zero_rate_limit(action: str = "post", base: dict[str, Any] | None = None) -> dict[str, Any]:
    """rate_limits.<action> = 0: nobody may do it."""
    return out_of_range(f"rate_limits.{action}", 0, base)


def wrong_type(path: str = "timeouts_ms.redis", value: Any = "100ms", base: dict[str, Any] | None = None) -> dict[str, Any]:
    """The value at dotted `path` replaced by one of the wrong JSON type."""
    return _set(_start(base), path, value)


def malformed(base: dict[str, Any] | None = None) -> str:
    """The document's JSON text cut in half: not JSON at all."""
    text = json.dumps(_start(base))
    return text[: len(text) // 2]


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    node: Any = doc
    keys = path.split(".")
    for key in keys[:-1]:
        if not isinstance(node, dict) or key not in node:
            raise KeyError(f"{path!r}: no {key!r} on the way")
        node = node[key]
    if not isinstance(node, dict) or keys[-1] not in node:
        raise KeyError(f"{path!r}: no key {keys[-1]!r}")
    node[keys[-1]] = value
    return doc
