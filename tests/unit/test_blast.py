"""Blast radius from declared edges, and cascades outside it (pure, no I/O)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judge import blast
from harness.judge.blast import blast_radius, find_cascades, service_chain
from harness.errors import InvalidFault, UsageError
from harness.topology import Topology
from harness.judge.verdicts import Observation

# gateway -> auth -> policy       login declares gateway->auth only, but auth really asks policy:
#    |  \                         the undeclared dependency of the March 2023 outage.
#    |   -> policy                api declares gateway->policy.
#    v
# timeline -> media               home declares gateway->timeline, timeline->media (transitive path);
#                                 image enters media directly and crosses no edge.
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
                     "edges": ["gateway->timeline", "timeline->media"]},
            "image": {"service": "media", "path": "/img/1", "edges": [], "budget_ms": 500},
            "api": {"service": "gateway", "path": "/2/tweets", "edges": ["gateway->policy"], "budget_ms": 800},
        },
    }
)
ALL = frozenset(TOY.journeys)


def obs(journey: str, verdict: str = "full", ms: float = 20.0) -> Observation:
    return Observation(journey, 200, ms, "", {}, verdict=verdict)


def test_public_surface_is_sorted():
    assert blast.__all__ == sorted(blast.__all__)


def test_a_declared_edge_puts_its_journeys_inside():
    r = blast_radius(TOY, edges=["timeline->media"])
    assert r.inside == {"home"}
    assert r.outside == ALL - {"home"}
    assert "home" in r and "login" not in r
    assert r.path("home") == ("gateway->timeline", "timeline->media")
    assert r.path("login") == ()


def test_an_undeclared_dependency_stays_outside_with_its_route():
    r = blast_radius(TOY, edges=["auth -> policy"])
    assert r.faulted_edges == {"auth->policy"}
    assert r.inside == frozenset()
    assert r.route("login") == ("gateway->auth", "auth->policy")
    assert service_chain(r.route("login")) == "gateway -> auth -> policy"


def test_a_fault_with_no_route_from_a_journey_leaves_its_route_empty():
    r = blast_radius(TOY, edges=["auth->policy"])
    assert r.route("image") == ()
    assert r.route("home") == ("gateway->auth", "auth->policy")  # gateway could call auth on the way


def test_a_faulted_service_cuts_all_its_edges():
    r = blast_radius(TOY, services=["policy"])
    assert r.faulted_edges == {"gateway->policy", "auth->policy"}
    assert r.inside == {"api"}
    assert r.path("api") == ("gateway->policy",)
    assert r.origins("auth->policy") == ("policy",)
    assert r.targets == ("policy",)


def test_a_faulted_entry_service_puts_its_journeys_inside():
    r = blast_radius(TOY, services=["media"])
    assert r.inside == {"home", "image"}
    assert r.path("image") == ("media",)
    assert r.path("home") == ("gateway->timeline", "timeline->media")


def test_killing_the_gateway_reaches_every_gateway_journey():
    assert blast_radius(TOY, services=["gateway"]).inside == {"login", "home", "api"}


def test_origins_name_the_edge_and_the_services_that_cut_it():
    r = blast_radius(TOY, edges=["auth->policy"], services=["auth"])
    assert r.origins("auth->policy") == ("auth->policy", "auth")
    assert r.origins("gateway->timeline") == ()
    assert r.origins("auth") == ("auth",)


def test_no_fault_leaves_everything_outside():
    r = blast_radius(TOY)
    assert r.inside == frozenset() and r.outside == ALL and r.targets == ()


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"edges": ["gateway->auht"]}, "unknown edge 'gateway->auht'; edges are: auth->policy, gateway->auth"),
        ({"edges": ["gateway"]}, "edge 'gateway' is not of the form 'caller->callee'"),
        ({"edges": "gateway->auth"}, "edges must be a collection of names, got the string 'gateway->auth'"),
        ({"services": ["redis"]}, "unknown service 'redis'; services are: auth, gateway, media, policy, timeline"),
    ],
)
def test_an_unknown_target_names_what_exists(kw, message):
    with pytest.raises(InvalidFault, match=message):
        blast_radius(TOY, **kw)


def test_an_unknown_journey_lists_the_journeys():
    with pytest.raises(UsageError, match="unknown journey 'lgoin'; journeys are: api, home, image, login"):
        blast_radius(TOY).path("lgoin")


# -- cascades ----------------------------------------------------------------


def cascades(radius, baseline, during, **kw):
    kw.setdefault("latency_tolerance_ms", 100)
    kw.setdefault("latency_tolerance_ratio", 1.0)
    return find_cascades(radius, baseline, during, **kw)


def test_a_verdict_change_outside_the_radius_is_a_cascade():
    r = blast_radius(TOY, edges=["auth->policy"])
    base = {n: obs(n) for n in ALL}
    during = {**base, "login": obs("login", "failed_fast", 12)}
    [c] = cascades(r, base, during, labels={"auth->policy": "BadConfig(policy)"})
    assert (c.journey, c.before, c.during, c.verdict_changed, c.latency_grew) == (
        "login", "full", "failed_fast", True, False)
    assert c.route == ("gateway->auth", "auth->policy")
    assert c.message == (
        "cascade: BadConfig(policy) reached journey 'login' (outside its blast radius: login declares "
        "gateway->auth only; undeclared route gateway -> auth -> policy); verdict full -> failed_fast"
    )


def test_a_change_inside_the_radius_is_not_a_cascade():
    r = blast_radius(TOY, edges=["timeline->media"])
    base = {n: obs(n) for n in ALL}
    assert cascades(r, base, {**base, "home": obs("home", "hung", 1600)}) == []


def test_no_change_no_cascade():
    base = {n: obs(n) for n in ALL}
    assert cascades(blast_radius(TOY, edges=["auth->policy"]), base, dict(base)) == []


def test_latency_tolerance_is_the_larger_of_absolute_and_ratio():
    r = blast_radius(TOY, edges=["auth->policy"])
    base = {"image": obs("image", ms=20), "api": obs("api", ms=400)}
    # image: allowed 20 + max(100, 20) = 120; api: allowed 400 + max(100, 400) = 800.
    assert cascades(r, base, {"image": obs("image", ms=120), "api": obs("api", ms=800)}) == []
    found = cascades(r, base, {"image": obs("image", ms=121), "api": obs("api", ms=801)})
    assert [(c.journey, c.latency_grew, c.verdict_changed) for c in found] == [
        ("api", True, False), ("image", True, False)]
    assert found[1].message == (
        "cascade: the fault on auth->policy reached journey 'image' (outside its blast radius: image "
        "declares no edges; no route to the fault in the topology); "
        "latency 20 ms -> 121 ms (allowed up to 120 ms)"
    )


def test_a_baseline_given_as_a_verdict_compares_verdicts_only():
    r = blast_radius(TOY, edges=["timeline->media"])
    assert cascades(r, {"image": "full"}, {"image": obs("image", ms=9_999)}) == []
    [c] = cascades(r, {"image": "full"}, {"image": obs("image", "failed_fast")})
    assert (c.before_ms, c.message.endswith("verdict full -> failed_fast")) == (None, True)
    assert "image declares no edges" in c.message


def test_journeys_missing_from_either_side_are_not_compared():
    r = blast_radius(TOY, edges=["auth->policy"])
    assert cascades(r, {"login": obs("login")}, {"api": obs("api", "hung")}) == []


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"latency_tolerance_ms": -1}, "latency_tolerance_ms must be a finite number >= 0, got -1"),
        ({"latency_tolerance_ratio": float("inf")}, "latency_tolerance_ratio must be a finite number >= 0, got inf"),
    ],
)
def test_bad_tolerances_name_the_value(kw, message):
    with pytest.raises(UsageError, match=message):
        cascades(blast_radius(TOY), {}, {}, **kw)


def test_bad_baselines_name_the_value():
    r = blast_radius(TOY)
    with pytest.raises(UsageError, match=r"baseline\['login'\]: unknown verdict 'ok'"):
        cascades(r, {"login": "ok"}, {"login": obs("login")})
    with pytest.raises(UsageError, match=r"during\['login'\]: unknown verdict 'bad'"):
        cascades(r, {"login": "full"}, {"login": "bad"})
    with pytest.raises(UsageError, match="unknown journey 'nope'"):
        cascades(r, {"nope": "full"}, {})


# -- properties --------------------------------------------------------------

edge_sets = st.frozensets(st.sampled_from(sorted(TOY.edges)))
service_sets = st.frozensets(st.sampled_from(sorted(TOY.services)))


@given(edge_sets, service_sets, edge_sets, service_sets)
def test_more_faults_never_shrink_the_radius(edges, services, more_edges, more_services):
    small = blast_radius(TOY, edges=edges, services=services)
    big = blast_radius(TOY, edges=edges | more_edges, services=services | more_services)
    assert small.inside <= big.inside
    assert small.faulted_edges <= big.faulted_edges
    assert big.inside | big.outside == ALL and not big.inside & big.outside
    for name in big.inside:
        assert big.path(name), name


def test_a_journey_that_got_better_outside_the_radius_is_no_cascade():
    radius = blast_radius(TOY, edges=[sorted(TOY.edges)[-1]])
    outside = sorted(radius.outside)[0]
    assert find_cascades(radius, {outside: "degraded"}, {outside: "full"},
                         latency_tolerance_ms=100, latency_tolerance_ratio=0.5) == []
    worse = find_cascades(radius, {outside: "full"}, {outside: "degraded"},
                          latency_tolerance_ms=100, latency_tolerance_ratio=0.5)
    assert [c.journey for c in worse] == [outside]
