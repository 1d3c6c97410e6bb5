"""Unit tests of the config schema, last-known-good handling, the raw (brittle) view and the presets (pure)."""

from __future__ import annotations

import json
import sys

import pytest

from services import presets
from services.common.config_default import DEFAULT_DOCUMENT, DEFAULT_ENTITLEMENTS, default_document, default_entitlements
from services.common.config_schema import InvalidConfig, validate_document, validate_entitlements
from services.common.entitlements_watch import EntitlementsState, EntitlementsView, offer_entitlements
from services.common.config_state import ConfigView, initial_state, offer, validated_view


def test_the_default_document_is_valid_and_already_normalised():
    # validated_view skips pydantic for the default; this is what makes that safe.
    assert validate_document(default_document()).model_dump() == DEFAULT_DOCUMENT


def test_the_default_needs_no_pydantic_import(monkeypatch):
    monkeypatch.delitem(sys.modules, "services.common.config_schema", raising=False)
    view = validated_view(default_document())
    assert view.timeout_ms("redis") == 100
    assert "services.common.config_schema" not in sys.modules


@pytest.mark.parametrize("doc, problem", [
    (presets.delete_rate_limits(), "rate_limits: Field required"),
    (presets.zero_timeout("timeline"), "timeouts_ms.timeline: Input should be greater than or equal to 1"),
    (presets.zero_rate_limit("post"), "rate_limits.post: Input should be greater than or equal to 1"),
    (presets.wrong_type("timeouts_ms.redis", "100ms"), "timeouts_ms.redis: Input should be a valid integer"),
    (presets.wrong_type("timeouts_ms.redis", "100"), "timeouts_ms.redis: Input should be a valid integer"),
    (presets.missing_section("features"), "features: Field required"),
    (presets.out_of_range("retry.budget_ratio", 1.5), "retry.budget_ratio: Input should be less than or equal to 1"),
    (None, "not valid JSON"),
    ([1, 2], "a JSON list, not an object"),
])
def test_invalid_documents_are_rejected_naming_the_field(doc, problem):
    with pytest.raises(InvalidConfig, match=problem.replace(".", r"\.").replace("(", r"\(")):
        validate_document(doc)


def test_the_default_entitlements_are_valid_and_already_normalised():
    assert validate_entitlements(default_entitlements()).model_dump() == DEFAULT_ENTITLEMENTS


@pytest.mark.parametrize("rules, problem", [
    ({"plans": DEFAULT_ENTITLEMENTS["plans"]}, "tiers: Field required"),
    ({**DEFAULT_ENTITLEMENTS, "tiers": {**DEFAULT_ENTITLEMENTS["tiers"], "first_party": "gold"}},
     "tiers.first_party names unknown plan 'gold'"),
    ({**DEFAULT_ENTITLEMENTS, "tiers": {"first_party": "free"}}, "tiers lacks tier 'internal'"),
    ({**DEFAULT_ENTITLEMENTS, "rate_limits": {}}, "rate_limits: Extra inputs are not permitted"),
    (None, "not valid JSON"),
])
def test_invalid_entitlements_are_rejected_naming_the_field(rules, problem):
    with pytest.raises(InvalidConfig, match=problem.replace(".", r"\.").replace("(", r"\(")):
        validate_entitlements(rules)


def test_ending_free_api_access_is_a_valid_rule_set_that_removes_free_everywhere():
    doc = presets.end_free_api_access()
    state, line = offer_entitlements(EntitlementsState(EntitlementsView(DEFAULT_ENTITLEMENTS)), 7,
                                     json.dumps(doc).encode(), validate=True)
    view = state.view
    assert line.startswith("entitlements revision 7 applied") and state.revision == 7
    assert all("free" not in view.endpoint_plans(e) for e in doc["plans"]["endpoint_access"])
    assert view.endpoint_plans("home_timeline") == ["basic", "paid"]
    assert view.tier_plan("first_party") == "free"  # the coupling is still in the rules


def test_invalid_rules_keep_the_last_known_good_and_raw_rules_apply_unvalidated():
    good = EntitlementsState(EntitlementsView(DEFAULT_ENTITLEMENTS), revision=3, sha256="a", latest=3)
    state, line = offer_entitlements(good, 4, b"{not json", validate=True)
    assert (state.revision, state.latest, state.rejected, state.view) == (3, 4, (4,), good.view)
    assert "entitlements revision 4 rejected" in line and "keeping revision 3 (last known good)" in line
    assert offer_entitlements(state, 4, b"{not json", validate=True) == (state, "")  # seen already
    raw, line = offer_entitlements(good, 5, b'{"tiers": {}}', validate=False)
    assert raw.view.validated is False and "applied unvalidated" in line
    with pytest.raises(KeyError):
        raw.view.endpoint_plans("login")  # the damage shows where the rules are used


def test_presets_never_change_their_base():
    base = default_document()
    presets.delete_rate_limits(base)
    presets.zero_timeout("auth", base)
    assert base == DEFAULT_DOCUMENT
    rules = default_entitlements()
    presets.end_free_api_access(rules)
    assert rules == DEFAULT_ENTITLEMENTS


def test_malformed_is_text_that_does_not_parse():
    with pytest.raises(ValueError):
        json.loads(presets.malformed())


def test_a_preset_naming_a_missing_path_says_so():
    with pytest.raises(KeyError, match="no key 'nope'"):
        presets.zero_timeout("nope")


# -- offer: validate and keep the last known good ------------------------------------


def test_a_valid_version_is_applied():
    state, line = offer(initial_state(), 1, default_document(), validate=True)
    assert (state.applied_version, state.loaded, state.on_last_known_good) == (1, True, False)
    assert line == "config version 1 applied"


def test_an_invalid_version_is_rejected_and_the_last_good_one_kept():
    s1, _ = offer(initial_state(), 1, default_document(), validate=True)
    s2, _ = offer(s1, 2, presets.out_of_range("timeouts_ms.auth", 250), validate=True)  # valid: applied
    s3, line = offer(s2, 3, presets.delete_rate_limits(), validate=True)
    assert s3.view is s2.view and s3.applied_version == 2
    assert (s3.latest_version, s3.rejected, s3.on_last_known_good) == (3, (3,), True)
    assert line.startswith("config version 3 rejected: rate_limits: Field required; keeping version 2")
    s4, _ = offer(s3, 4, default_document(), validate=True)
    assert (s4.applied_version, s4.on_last_known_good, s4.rejected) == (4, False, (3,))


def test_an_invalid_first_version_falls_back_to_the_built_in_default():
    state, line = offer(initial_state(), 7, None, validate=True)
    assert state.loaded and state.on_last_known_good
    assert state.view.rate_limit("post") == DEFAULT_DOCUMENT["rate_limits"]["post"]
    assert "keeping version built-in default" in line


def test_seeing_the_same_version_again_changes_nothing():
    s1, _ = offer(initial_state(), 1, default_document(), validate=True)
    assert offer(s1, 1, None, validate=True) == (s1, "")


def test_unvalidated_documents_are_applied_as_is_and_fail_where_used():
    state, line = offer(initial_state(), 2, presets.delete_rate_limits(), validate=False)
    assert (state.applied_version, state.on_last_known_good) == (2, False)
    assert "unvalidated" in line
    with pytest.raises(KeyError):
        state.view.rate_limit("post")
    zero, _ = offer(state, 3, presets.zero_rate_limit("post"), validate=False)
    assert zero.view.rate_limit("post") == 0
    broken, _ = offer(state, 4, None, validate=False)
    with pytest.raises(TypeError):
        broken.view.timeout_ms("redis")


def test_a_validated_view_answers_in_range_and_with_defaults():
    view = ConfigView(default_document())
    assert view.retry().attempts == 2 and view.breaker().failure_threshold == 5
    assert view.feature("no_such_flag") is True and view.feature("no_such_flag", False) is False
