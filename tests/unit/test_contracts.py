"""Contracts: defaults from the topology, per-edge and per-service overrides, and checking (pure)."""

import pytest

from harness.judge import contracts
from harness.judge.contracts import DEFAULT_TOUCHED, Contract, acceptable, check, confirm_alone, contract_for, frozen_by
from harness.faults import Kill, Latency, Pause
from harness.errors import InvalidFault, InvalidTopology, UsageError
from harness.topology import Topology
from harness.judge.verdicts import Observation

# gateway -> auth -> policy, gateway -> policy, gateway -> timeline -> media (see test_blast.py).
TOY = Topology.from_dict(
    {
        "services": {name: {} for name in ("gateway", "auth", "timeline", "media", "policy")},
        "edges": {
            "gateway->auth": {"env": "AUTH_URL"},
            "gateway->timeline": {"env": "TIMELINE_URL"},
            "gateway->policy": {"env": "POLICY_URL"},
            "timeline->media": {"env": "MEDIA_URL"},
            "auth->policy": {"env": "POLICY_URL"},
        },
        "journeys": {
            "login": {"service": "gateway", "path": "/login", "edges": ["gateway->auth"], "budget_ms": 1000},
            "home": {"service": "gateway", "path": "/home", "budget_ms": 1500,
                     "edges": ["gateway->timeline", "timeline->media"],
                     "contracts": {"timeline->media": ["degraded"], "timeline": ["failed_fast"]}},
            "image": {"service": "media", "path": "/img/1", "edges": [], "budget_ms": 500,
                      "contracts": {"media": ["failed_fast"]}},
            "api": {"service": "gateway", "path": "/2/tweets", "edges": ["gateway->policy"], "budget_ms": 800,
                    "contracts": {"policy": ["failed_fast"]}},
        },
    }
)


def obs(journey: str, verdict: str, *, leaked: bool = False, reason: str = "r") -> Observation:
    return Observation(journey, 200, 20.0, "", {}, verdict=verdict, reason=reason, leaked=leaked)


def test_public_surface_is_sorted():
    assert contracts.__all__ == sorted(contracts.__all__)


def test_a_journey_outside_the_radius_must_stay_full():
    assert acceptable("login", TOY, edges=["timeline->media"]) == {"full"}
    # Even when the topology has a route to the fault: login does not declare auth->policy.
    assert acceptable(TOY.journey("login"), TOY, edges=["auth->policy"]) == {"full"}


def test_a_crossed_edge_without_a_contract_allows_full_degraded_failed_fast():
    assert acceptable("login", TOY, edges=["gateway->auth"]) == DEFAULT_TOUCHED == {"full", "degraded", "failed_fast"}


def test_an_edge_contract_overrides_the_default():
    assert acceptable("home", TOY, edges=["timeline->media"]) == {"degraded"}
    assert acceptable("home", TOY, edges=["gateway->timeline"]) == DEFAULT_TOUCHED


def test_an_edge_contract_governs_its_edge_even_when_a_service_cut_it():
    # Killing media cuts timeline->media; home's contract for that edge still applies.
    assert acceptable("home", TOY, edges=[], services=["media"]) == {"degraded"}


def test_a_service_contract_applies_to_the_edges_it_cuts():
    assert acceptable("api", TOY, edges=[], services=["policy"]) == {"failed_fast"}
    # The edge alone, without the service, falls back to the default.
    assert acceptable("api", TOY, edges=["gateway->policy"]) == DEFAULT_TOUCHED


def test_a_service_cutting_edges_on_both_sides_unions_their_contracts():
    # timeline cuts gateway->timeline (service contract: failed_fast) and timeline->media (edge: degraded).
    assert acceptable("home", TOY, edges=[], services=["timeline"]) == {"failed_fast", "degraded"}


def test_a_faulted_entry_service_uses_its_contract_or_the_default():
    assert acceptable("image", TOY, edges=[], services=["media"]) == {"failed_fast"}
    assert acceptable("login", TOY, edges=[], services=["gateway"]) == DEFAULT_TOUCHED


def test_several_faults_union_their_contracts():
    assert acceptable("home", TOY, edges=["timeline->media", "gateway->timeline"]) == DEFAULT_TOUCHED
    assert acceptable("api", TOY, edges=["gateway->policy"], services=["policy"]) == DEFAULT_TOUCHED


def test_the_contract_says_why():
    c = contract_for("home", TOY, edges=["timeline->media", "auth->policy"])
    assert (c.touched_by, c.faults, c.wanted) == (("timeline->media",), ("auth->policy", "timeline->media"), "degraded")
    assert c.context == "while timeline->media is faulted"
    assert contract_for("login", TOY, edges=["timeline->media"]).context == (
        "outside the blast radius of timeline->media")
    assert contract_for("home", TOY, services=["timeline"]).context == "while timeline is faulted"
    assert contract_for("login", TOY).context == "with no fault"


def test_unknown_names_are_refused():
    with pytest.raises(InvalidTopology, match="unknown journey 'nope'; journeys are: api, home, image, login"):
        acceptable("nope", TOY, edges=[])
    with pytest.raises(InvalidFault, match="unknown edge 'a->b'"):
        acceptable("home", TOY, edges=["a->b"])


# -- check -------------------------------------------------------------------


def test_an_acceptable_verdict_passes():
    r = check(obs("home", "degraded"), contract_for("home", TOY, edges=["timeline->media"]))
    assert (r.ok, r.verdict, r.acceptable, r.leaked) == (True, "degraded", {"degraded"}, False)
    assert r.message == "home: degraded is acceptable (degraded) while timeline->media is faulted"


def test_an_unacceptable_verdict_fails_with_reason_and_context():
    r = check(obs("home", "hung", reason="200 in 1600 ms: over the 1500 ms budget"),
              contract_for("home", TOY, edges=["gateway->timeline"]))
    assert not r.ok
    assert r.message == ("home: hung (200 in 1600 ms: over the 1500 ms budget), "
                         "wanted degraded|failed_fast|full while gateway->timeline is faulted")


@pytest.mark.parametrize("verdict", ["hung", "wrong"])
def test_hung_and_wrong_never_pass(verdict):
    assert not check(obs("login", verdict), contract_for("login", TOY, edges=["gateway->auth"])).ok


def test_a_journey_whose_entry_service_is_paused_may_hang_and_only_that_journey():
    frozen = frozen_by([Pause("media"), Latency("gateway->timeline", ms=100)])
    assert frozen == {"media"}
    image = check(obs("image", "hung"), contract_for("image", TOY, services=["media"], frozen=frozen))
    assert image.ok and image.message == "image: hung, as it must: its entry service media is frozen (paused)"
    # home only passes through media: its callers must time out and degrade, never hang
    assert not check(obs("home", "hung"), contract_for("home", TOY, services=["media"], frozen=frozen)).ok
    # a killed entry service refuses connections: that is failed_fast, never a hang
    assert not check(obs("image", "hung"), contract_for("image", TOY, services=["media"],
                                                      frozen=frozen_by([Kill("media")]))).ok
    # a frozen entry service allows hung in addition to its contract, and nothing else
    assert not check(obs("image", "degraded"), contract_for("image", TOY, services=["media"], frozen=frozen)).ok


def test_a_leaked_error_body_breaks_the_contract_unless_allowed():
    leaky = obs("api", "failed_fast", leaked=True, reason="403 in 9 ms: body leaks 'x'")
    strict = contract_for("api", TOY, services=["policy"])
    r = check(leaky, strict)
    assert (r.ok, r.leaked) == (False, True)
    assert r.message == ("api: failed_fast but the error body leaks an internal message (403 in 9 ms: body "
                         "leaks 'x'); leaks are not acceptable while policy is faulted")
    assert check(leaky, contract_for("api", TOY, services=["policy"], allow_leaks=True)).ok
    assert check(leaky, strict, allow_leaks=True).ok


def test_check_takes_a_plain_set_of_verdicts():
    assert check(obs("login", "full"), {"full"}).ok
    assert not check(obs("login", "failed_fast", leaked=True), ["failed_fast"]).ok
    assert check(obs("login", "degraded"), frozenset()).message.startswith("login: degraded (r), wanted nothing")


@pytest.mark.parametrize(
    "verdicts, message",
    [
        ({"hung"}, "'hung' is never an acceptable verdict"),
        ({"ok"}, "unknown verdict 'ok'; verdicts are: full, degraded, failed_fast, hung, wrong"),
        ("full", "must be a collection of verdicts"),
    ],
)
def test_bad_verdict_sets_name_the_value(verdicts, message):
    with pytest.raises(UsageError, match=message):
        check(obs("login", "full"), verdicts)
    with pytest.raises(UsageError, match=message):
        Contract("login", verdicts)


def test_confirm_alone_reruns_only_the_broken_and_keeps_a_second_run_that_holds():
    contracts = {n: contract_for(n, TOY, edges=["timeline->media"]) for n in ("home", "login")}
    seen = {"home": obs("home", "failed_fast"), "login": obs("login", "full")}
    rerun_of = {"home": obs("home", "degraded")}
    asked = []
    results = confirm_alone(seen, contracts, lambda n: (asked.append(n), rerun_of[n])[1])
    assert asked == ["home"]
    assert seen["home"].verdict == "degraded" and all(r.ok for r in results.values())
    still = {"home": obs("home", "hung")}
    results = confirm_alone(still, contracts, lambda n: obs(n, "failed_fast"))
    assert still["home"].verdict == "hung" and not results["home"].ok


def test_an_untouched_journey_declared_degraded_at_rest_may_stay_degraded_and_nothing_worse():
    topo = Topology.from_dict({
        "services": {"front": {}, "back": {}, "side": {}},
        "edges": {"front->back": {"env": "BACK_URL"}},
        "journeys": {
            "page": {"service": "front", "path": "/", "edges": ["front->back"], "budget_ms": 500},
            "legacy": {"service": "side", "path": "/", "edges": [], "budget_ms": 500, "at_rest": "degraded"},
        },
    })
    c = contract_for("legacy", topo, edges=["front->back"])
    assert c.verdicts == frozenset({"full", "degraded"})
    assert contract_for("page", topo, services=["side"]).verdicts == frozenset({"full"})  # declared full at rest
