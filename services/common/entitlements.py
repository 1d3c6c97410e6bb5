"""Who may call which API endpoint: API keys to tiers, tiers to plans, plans to endpoints (pure).

    resilient:  first_party, internal ──────────────────────────────> allowed, never gated
                third_party_* ──tiers──> plan ──endpoint_access──> allowed?
    entitlement_coupling brittle: every tier goes through the plan gate, and first_party and
                internal are evaluated as their mapped plan "free": March 2023's latent coupling.
"""

from __future__ import annotations

from dataclasses import dataclass

from .entitlements_watch import EntitlementsView

__all__ = [
    "API_KEYS",
    "ENTITLEMENT_ERROR",
    "FIRST_PARTY_TIERS",
    "Decision",
    "check",
    "tier_of",
]

# Fixed demo keys (documented in services/README.md): the key names the caller's tier.
API_KEYS = {
    "first-party-web": "first_party",
    "deck-internal": "internal",
    "tp-free": "third_party_free",
    "tp-paid": "third_party_paid",
}
FIRST_PARTY_TIERS = frozenset({"first_party", "internal"})
ENTITLEMENT_ERROR = {
    "errors": [{
        "message": "Your current API plan does not include access to this endpoint. "
                   "Upgrade at developer.example.test/plans",
        "code": 467,
    }]
}


@dataclass(frozen=True)
class Decision:
    """The gate's answer: allowed or not, and the plan it was judged on ('' when not gated)."""

    allowed: bool
    plan: str = ""


def tier_of(api_key: str | None) -> str | None:
    """The tier of an API key, or None for a missing or unknown key."""
    return API_KEYS.get(api_key or "")


def check(tier: str, endpoint: str, view: EntitlementsView, *, coupled: bool) -> Decision:
    """May `tier` call `endpoint` under these rules? `coupled` is the entitlement_coupling knob."""
    if tier in FIRST_PARTY_TIERS and not coupled:
        return Decision(True)
    plan = view.tier_plan(tier)
    return Decision(plan in view.endpoint_plans(endpoint), plan)
