"""March 2023: a push meant to end free third-party API access must not reach first-party features.

The push goes where the gateway's entitlement rules live, the etcd key of the `entitlements`
config source, and is valid (so the gateway applies it); only the entitlement coupling could
make it reach Twitter's own callers. Blast radius: every journey through the gateway (its only
consumer), so what keeps first-party features out of it is said here, journey by journey.
"""

from __future__ import annotations

from harness.faults import BadConfig, HttpError
from harness.mesh import Mesh
from harness.judge.verdicts import Observation
from services import presets

from .support import observe_the_rest

FIRST_PARTY = ("link", "image", "deck", "login", "home", "post")
PUSH_NAME = "end free API access"


def end_free_api_access(mesh: Mesh) -> BadConfig:
    """The March 2023 push, built on the entitlement rules in etcd now."""
    rules = mesh.config("entitlements").current().document
    return BadConfig(presets.end_free_api_access(rules), name=PUSH_NAME, source="entitlements")


def assert_gateway_applied(mesh: Mesh) -> None:
    """A valid push: the gateway logged that it applied it before the push returned."""
    __tracebackhide__ = True
    applied = mesh.config("entitlements").last_applied
    assert applied is not None and applied.running == ("gateway",), f"the gateway did not apply the push: {applied}"


def test_ending_free_api_access_leaves_links_images_deck_login_home_and_post_full(mesh, chaos):
    """A push that ends free API access leaves every first-party journey full."""
    with chaos.inject(end_free_api_access(mesh)):
        assert_gateway_applied(mesh)
        seen = {name: mesh.journey(name) for name in FIRST_PARTY}
        observe_the_rest(mesh, chaos)

    wrong = {n: f"{o.verdict} ({o.reason})" for n, o in seen.items() if o.verdict != "full"}
    assert not wrong, f"first-party journeys hit by a third-party policy change: {wrong}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_ending_free_api_access_refuses_free_third_parties_with_a_clear_403_and_paid_keep_access(mesh, chaos):
    """After the push a free third-party app gets a fast 403 with the public API error; a paid one keeps access."""
    with chaos.inject(end_free_api_access(mesh)):
        assert_gateway_applied(mesh)
        free = mesh.journey("thirdparty_free")
        paid = mesh.journey("thirdparty_paid")
        observe_the_rest(mesh, chaos)

    assert free.verdict == "failed_fast", free.reason
    assert free.status == 403, free.reason
    assert "does not include access to this endpoint" in free.body_excerpt and '"code":467' in free.body_excerpt
    assert free.elapsed_ms < 500, f"a policy refusal must be quick: {free.reason}"
    assert paid.verdict == "full", paid.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_no_first_party_user_ever_sees_the_api_plan_error_while_free_access_ends(mesh, chaos, load):
    """Under steady first-party traffic across the push, no first-party answer carries an internal error body."""
    seen: list[Observation] = []
    unsubscribe = mesh.subscribe(lambda obs, body: seen.append(obs))
    try:
        # About one request at a time: these journeys are outside the push's radius and must stay full.
        traffic = load("home", "link", "image", "deck", "login", rate_per_s=6, duration_s=2.5)
        with chaos.inject(end_free_api_access(mesh)):
            assert_gateway_applied(mesh)
            traffic.wait()
            observe_the_rest(mesh, chaos)
    finally:
        unsubscribe()

    first_party = [o for o in seen if o.journey in FIRST_PARTY]
    assert len(first_party) >= 12, f"too little traffic to judge: {len(first_party)} first-party answers"
    leaked = [f"{o.journey}: {o.reason}" for o in first_party if o.leaked or o.verdict == "wrong"]
    assert not leaked, f"{len(leaked)} first-party answers leaked an internal error: {leaked[:5]}"
    not_full = [f"{o.journey}: {o.verdict} ({o.reason})" for o in first_party if o.verdict != "full"]
    assert not not_full, f"first-party answers not full across the push: {not_full[:5]}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_the_config_history_names_the_push_that_ended_free_access_and_its_rollback(mesh, chaos):
    """The entitlements' history shows the push (version and note) and, after revert, the rollback to the version before."""
    rules = mesh.config("entitlements")
    before = rules.current().version
    with chaos.inject(end_free_api_access(mesh)):
        pushed = rules.current().version
        assert_gateway_applied(mesh)
        during = rules.history()
        observe_the_rest(mesh, chaos)
    after = rules.history()

    assert pushed == before + 1
    entry = during[-1]
    assert entry["version"] == pushed and PUSH_NAME in entry["note"], entry
    assert after[-1]["version"] == pushed + 1 and f"rollback to version {before}" in after[-1]["note"], after[-1]
    assert after[-1]["sha256"] == next(v["sha256"] for v in after if v["version"] == before)
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_rolling_back_the_push_gives_free_third_parties_their_access_back_within_2s(mesh, chaos):
    """Once the push is rolled back, every journey, free third parties included, is back at its baseline within 2 s."""
    with chaos.inject(end_free_api_access(mesh)):
        assert_gateway_applied(mesh)
        assert mesh.journey("thirdparty_free").status == 403
        observe_the_rest(mesh, chaos)

    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=2.0)


# -- the same answer with no config push at all: injected on the edge in front of the entitlement gate --

API_PLAN_ERROR = {"errors": [{"message": "Your current API plan does not include access to this endpoint.",
                              "code": 467}]}


def test_an_api_plan_error_injected_between_deck_and_the_gateway_never_reaches_deck_users(mesh, chaos):
    """The gateway's edge answers deck's home column with the raw 403 / code 467: deck shows the column unavailable."""
    # No push: the config every service runs stays the same; only deck->gateway's answers change,
    # as they did for TweetDeck when first-party calls fell behind the third-party gate.
    versions = {name: mesh.config(name).current().version for name in mesh.topology.config_sources}
    with chaos.inject(HttpError("deck->gateway", status=403, body=API_PLAN_ERROR, path="/api/home")):
        deck = mesh.journey("deck")
        observe_the_rest(mesh, chaos)
    assert {name: mesh.config(name).current().version for name in versions} == versions  # nothing was pushed

    assert deck.verdict == "degraded", f"deck: {deck.verdict} ({deck.reason})"
    assert "467" not in deck.body_excerpt and "API plan" not in deck.body_excerpt, deck.body_excerpt
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=2.0)


def test_an_api_plan_error_injected_between_links_and_the_gateway_never_becomes_the_link_page(mesh, chaos):
    """links->gateway answering 403 / code 467 (no push): every short link still redirects to its target."""
    with chaos.inject(HttpError("links->gateway", status=403, body=API_PLAN_ERROR)):
        link = mesh.journey("link")
        observe_the_rest(mesh, chaos)

    assert link.verdict == "full", f"link: {link.verdict} ({link.reason})"
    assert "467" not in link.body_excerpt, link.body_excerpt
    chaos.assert_contracts()
    chaos.assert_blast_radius()
