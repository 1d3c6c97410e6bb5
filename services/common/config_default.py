"""The good default config documents and the names they use; plain data, no pydantic.

    DEFAULT_DOCUMENT      the config service's document (version 1): rate limits, features, timeouts...
    DEFAULT_ENTITLEMENTS  the gateway's entitlement rules, kept in etcd (key ENTITLEMENTS_KEY):
                          which plans may call which endpoint, and each tier's plan
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["ACTIONS", "DEFAULT_DOCUMENT", "DEFAULT_ENTITLEMENTS", "ENDPOINTS", "ENTITLEMENTS_KEY", "PLANS", "TIERS",
           "default_document", "default_entitlements"]

PLANS = ("free", "basic", "paid")
TIERS = ("first_party", "internal", "third_party_free", "third_party_paid")
ENDPOINTS = ("home_timeline", "media", "login", "post", "links", "trends")
ACTIONS = ("post", "login")

ENTITLEMENTS_KEY = "/chirp/entitlements"
DEFAULT_ENTITLEMENTS: dict[str, Any] = {
    "plans": {
        "names": list(PLANS),
        "endpoint_access": {e: list(PLANS) for e in ENDPOINTS},
    },
    # The latent coupling: Twitter's own clients were evaluated as the "free" plan.
    "tiers": {
        "first_party": "free",
        "internal": "free",
        "third_party_free": "free",
        "third_party_paid": "paid",
    },
}

DEFAULT_DOCUMENT: dict[str, Any] = {
    "rate_limits": {"post": 3_000, "login": 3_000},
    "features": {"media_previews": True, "trends_column": True},
    "timeouts_ms": {
        "request": 1_000,
        "auth": 300,
        "timeline": 700,
        "media": 300,
        "redis": 100,
        "config": 500,
        "gateway": 900,
        "links": 300,
    },
    "retry": {"attempts": 2, "base_backoff_ms": 20, "budget_ratio": 0.2},
    "breaker": {"failure_threshold": 5, "reset_timeout_ms": 1_000},
}


def default_document() -> dict[str, Any]:
    """A fresh deep copy of the good default document."""
    return copy.deepcopy(DEFAULT_DOCUMENT)


def default_entitlements() -> dict[str, Any]:
    """A fresh deep copy of the good default entitlement rules."""
    return copy.deepcopy(DEFAULT_ENTITLEMENTS)
