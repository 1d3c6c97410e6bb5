"""Unit tests of the entitlement gate: resilient separation of first parties vs the 2023 coupling (pure)."""

from __future__ import annotations

import json

import pytest

from services import presets
from services.common.config_default import default_entitlements
from services.common.entitlements_watch import EntitlementsView
from services.common.entitlements import API_KEYS, ENTITLEMENT_ERROR, check, tier_of

DEFAULT = EntitlementsView(default_entitlements())
ENDED = EntitlementsView(presets.end_free_api_access())


def test_demo_keys_map_to_tiers_and_unknown_keys_to_none():
    assert tier_of("first-party-web") == "first_party"
    assert tier_of("deck-internal") == "internal"
    assert tier_of("tp-free") == "third_party_free"
    assert tier_of("tp-paid") == "third_party_paid"
    assert tier_of("nope") is None and tier_of(None) is None


@pytest.mark.parametrize("coupled", [False, True])
def test_with_the_default_config_everyone_may_call_everything(coupled):
    for tier in API_KEYS.values():
        assert check(tier, "login", DEFAULT, coupled=coupled).allowed


@pytest.mark.parametrize("endpoint", ["home_timeline", "media", "login", "post", "links", "trends"])
def test_ending_free_access_resilient_refuses_only_the_free_third_party(endpoint):
    assert not check("third_party_free", endpoint, ENDED, coupled=False).allowed
    assert check("third_party_paid", endpoint, ENDED, coupled=False).allowed
    assert check("first_party", endpoint, ENDED, coupled=False).allowed
    assert check("internal", endpoint, ENDED, coupled=False).allowed


@pytest.mark.parametrize("endpoint", ["home_timeline", "media", "login", "post", "links", "trends"])
def test_ending_free_access_coupled_takes_first_party_and_internal_down_too(endpoint):
    for tier in ("first_party", "internal", "third_party_free"):
        decision = check(tier, endpoint, ENDED, coupled=True)
        assert not decision.allowed and decision.plan == "free"
    assert check("third_party_paid", endpoint, ENDED, coupled=True).allowed


def test_first_parties_are_not_even_evaluated_when_resilient():
    # A broken (unvalidated) document cannot take first parties down through the gate.
    broken = EntitlementsView(None, validated=False)
    assert check("first_party", "login", broken, coupled=False).allowed
    with pytest.raises(TypeError):
        check("first_party", "login", broken, coupled=True)


def test_the_entitlement_error_has_the_2023_shape():
    text = json.dumps(ENTITLEMENT_ERROR, separators=(",", ":"))
    assert '"code":467' in text and "does not include access to this endpoint" in text
