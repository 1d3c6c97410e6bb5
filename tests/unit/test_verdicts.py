"""Verdict classification: every rule of the table, its boundaries, and totality (pure, no I/O)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.judge import verdicts
from harness.errors import HarnessError, UsageError
from harness.topology import VERDICTS, Topology
from harness.judge.verdicts import EXCERPT_CHARS, Observation, classify

LEAK = "does not include access to this endpoint"
CODE_467 = (
    '{"errors":[{"message":"Your current API plan does not include access to this endpoint,'
    ' please upgrade","code":467}]}'
)

TOPOLOGY = Topology.from_dict(
    {
        "mesh": {"leak_patterns": [LEAK, '"code":467'], "degraded_header": "X-Cascade-Degraded"},
        "services": {"gateway": {}, "timeline": {}},
        "edges": {"gateway->timeline": {"env": "TIMELINE_URL"}},
        "journeys": {
            "home": {"service": "gateway", "path": "/home", "edges": ["gateway->timeline"],
                     "budget_ms": 1500, "expect_body": "posts"},
            "link": {"service": "gateway", "path": "/l/1", "edges": [], "budget_ms": 800,
                     "expect_status": [302]},
            "api": {"service": "gateway", "path": "/2/tweets", "edges": [], "budget_ms": 800,
                    "expect_status": [403], "expect_body": LEAK},
            "ping": {"service": "gateway", "path": "/ping", "edges": [], "budget_ms": 100},
        },
    }
)


def run(journey="home", *, status=200, elapsed_ms=20.0, body="posts: 3", headers=None, **kw) -> Observation:
    return classify(TOPOLOGY.journey(journey), TOPOLOGY, status=status, elapsed_ms=elapsed_ms,
                    body=body, headers=headers or {}, **kw)


def test_public_surface_is_sorted():
    assert verdicts.__all__ == sorted(verdicts.__all__)


# -- full / degraded ---------------------------------------------------------


def test_expected_status_body_and_no_header_is_full():
    obs = run()
    assert (obs.verdict, obs.reason, obs.leaked, obs.fallbacks) == ("full", "200 in 20 ms", False, ())


def test_degraded_header_names_the_fallbacks_and_excuses_the_body():
    obs = run(body="placeholder", headers={"X-Cascade-Degraded": "stale-timeline, placeholder-image"})
    assert obs.verdict == "degraded"
    assert obs.fallbacks == ("stale-timeline", "placeholder-image")
    assert obs.reason == "200 in 20 ms: fallback stale-timeline, placeholder-image"
    assert obs.headers == {"x-cascade-degraded": "stale-timeline, placeholder-image"}


def test_an_empty_degraded_header_is_not_a_fallback():
    assert run(headers={"x-cascade-degraded": " , "}).verdict == "full"


def test_a_redirect_journey_is_full_on_its_302():
    assert run("link", status=302, body="").verdict == "full"


# -- wrong -------------------------------------------------------------------


def test_a_success_leaking_the_code_467_json_is_wrong():
    obs = run(body=CODE_467)
    assert obs.verdict == "wrong" and obs.leaked
    assert obs.reason == f"200 in 20 ms: body leaks {LEAK!r}"


def test_leak_patterns_match_case_insensitively():
    assert run(body="posts " + LEAK.upper()).verdict == "wrong"


def test_a_leak_wins_over_the_degraded_header():
    assert run(body=CODE_467, headers={"x-cascade-degraded": "stale"}).verdict == "wrong"


def test_an_unexpected_2xx_is_wrong():
    obs = run("link", status=200, body="")
    assert obs.verdict == "wrong"
    assert obs.reason == "200 in 20 ms: expected 302"


def test_an_expected_status_without_the_expected_body_is_wrong():
    obs = run(body="{}")
    assert obs.verdict == "wrong"
    assert obs.reason == "200 in 20 ms: body lacks 'posts'"


def test_a_journey_that_expects_the_refusal_is_full_on_it():
    # The third-party API without a plan *should* get the 467 text: it is not a leak there.
    obs = run("api", status=403, body=CODE_467)
    assert (obs.verdict, obs.leaked) == ("full", False)


def test_a_journey_expecting_the_refusal_still_needs_its_body():
    assert run("api", status=403, body='{"code":467}').verdict == "wrong"


@pytest.mark.parametrize("status", [101, 600, 999, 0])
def test_an_odd_status_is_wrong(status):
    obs = run(status=status)
    assert obs.verdict == "wrong"
    assert obs.reason == f"{status} in 20 ms: unexpected status, expected 200"


# -- failed_fast -------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 403, 500, 503, 599])
def test_an_error_status_within_budget_fails_fast(status):
    obs = run(status=status, body="nope")
    assert (obs.verdict, obs.reason, obs.leaked) == ("failed_fast", f"{status} in 20 ms", False)


def test_an_error_status_leaking_is_failed_fast_but_flagged():
    obs = run(status=403, elapsed_ms=12, body=CODE_467)
    assert (obs.verdict, obs.leaked) == ("failed_fast", True)
    assert obs.reason == f"403 in 12 ms: body leaks {LEAK!r}"


@pytest.mark.parametrize("error", ["connection refused", "ConnectionResetError: reset by peer", ""])
def test_no_answer_within_budget_fails_fast(error):
    obs = run(status=None, elapsed_ms=3, body=b"", error=error)
    assert obs.verdict == "failed_fast"
    assert obs.reason == f"no answer in 3 ms: {error or 'no answer'}"


# -- hung --------------------------------------------------------------------


def test_elapsed_equal_to_budget_is_in_time():
    assert run(elapsed_ms=1500).verdict == "full"


def test_elapsed_just_over_budget_is_hung_whatever_came_back():
    obs = run(elapsed_ms=1500.001)
    assert obs.verdict == "hung"
    assert obs.reason == "200 in 1500 ms: over the 1500 ms budget"
    assert run(status=503, elapsed_ms=1501).verdict == "hung"
    assert run(body=CODE_467, elapsed_ms=1501).verdict == "hung"


@pytest.mark.parametrize("kw", [{"error": "timed out after 1500 ms"}, {"error": "ReadTimeout"}, {"timed_out": True}])
def test_a_transport_timeout_is_hung_even_within_budget(kw):
    obs = run(status=None, elapsed_ms=10, body=b"", **kw)
    assert obs.verdict == "hung"
    assert obs.reason == f"no answer in 10 ms: {kw.get('error', 'timed out')}"


# -- the observation value ---------------------------------------------------


def test_body_is_decoded_leniently_and_excerpted():
    obs = run(body=b"posts \xff" + b"x" * 1000, at_s=12.5)
    assert obs.verdict == "full"
    assert len(obs.body_excerpt) == EXCERPT_CHARS
    assert obs.body_excerpt.startswith("posts \ufffd")
    assert obs.at_s == 12.5
    assert obs.to_dict()["verdict"] == "full"


def test_headers_may_come_as_pairs_like_http_client_gives_them():
    obs = run(headers=[("X-Cascade-Degraded", "stale-timeline"), ("Content-Type", "text/plain")])
    assert (obs.verdict, obs.headers["content-type"]) == ("degraded", "text/plain")


def test_an_observation_with_an_unknown_verdict_is_refused():
    with pytest.raises(UsageError, match="unknown verdict 'fine'; verdicts are: full, degraded"):
        Observation("home", 200, 1.0, "", {}, verdict="fine")


@pytest.mark.parametrize(
    "kw, message",
    [
        ({"status": "200"}, "status must be an int or None, got '200'"),
        ({"status": True}, "status must be an int or None, got True"),
        ({"elapsed_ms": -1}, "elapsed_ms must be a number >= 0, got -1"),
        ({"elapsed_ms": float("nan")}, "elapsed_ms must be a number >= 0, got nan"),
        ({"body": 42}, "body must be bytes or str, got int 42"),
        ({"headers": [("only-a-name",)]}, "headers must be a mapping or (name, value) pairs"),
    ],
)
def test_bad_input_names_the_value(kw, message):
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run(**kw)


# -- properties --------------------------------------------------------------

statuses = st.one_of(st.none(), st.integers(min_value=0, max_value=999))
elapsed = st.one_of(st.floats(min_value=0, allow_nan=False), st.integers(min_value=0, max_value=10_000))
bodies = st.one_of(st.binary(max_size=400), st.text(max_size=400), st.sampled_from([CODE_467, "posts", ""]))
headers = st.dictionaries(
    st.one_of(st.text(max_size=20), st.just("X-Cascade-Degraded")), st.text(max_size=30), max_size=4
)
errors = st.one_of(st.text(max_size=40), st.sampled_from(["", "connection refused", "timed out after 5 ms"]))


@given(st.sampled_from(sorted(TOPOLOGY.journeys)), statuses, elapsed, bodies, headers, errors, st.booleans())
def test_classify_is_total_and_hung_iff_over_budget_or_timeout(name, status, ms, body, hdrs, error, timed_out):
    journey = TOPOLOGY.journey(name)
    try:
        obs = classify(journey, TOPOLOGY, status=status, elapsed_ms=ms, body=body, headers=hdrs,
                       error=error, timed_out=timed_out)
    except HarnessError as exc:  # pragma: no cover - a failure here is the finding
        pytest.fail(f"classify raised {exc!r}")
    assert obs.verdict in VERDICTS
    is_timeout = timed_out or "timed out" in error.lower() or "timeout" in error.lower()
    assert (obs.verdict == "hung") == (ms > journey.budget_ms or is_timeout)
    assert obs.reason


# -- severity ----------------------------------------------------------------


def test_severity_orders_verdicts_from_best_to_worst_for_the_user():
    order = ["full", "degraded", "failed_fast", "hung", "wrong"]
    assert sorted(verdicts.SEVERITY, key=verdicts.SEVERITY.get) == order
    assert verdicts.worse("hung", "degraded") and not verdicts.worse("full", "degraded")
    assert not verdicts.worse("degraded", "degraded")


def test_a_journeys_degraded_body_pattern_makes_a_body_that_says_so_degraded():
    topo = Topology.from_dict({
        "services": {"shop": {}},
        "journeys": {"browse": {"service": "shop", "path": "/products", "edges": [], "budget_ms": 500,
                                "expect_body": '"price_cents":1320', "degraded_body": r'"price_cents":\s*null'}},
    })  # fmt: skip
    browse = topo.journey("browse")
    partial = classify(browse, topo, status=200, elapsed_ms=5, body='[{"id":"p1","price_cents": null}]')
    assert (partial.verdict, partial.fallbacks) == ("degraded", ("body '\"price_cents\": null'",))
    assert partial.reason == "200 in 5 ms: fallback body '\"price_cents\": null'"
    assert classify(browse, topo, status=200, elapsed_ms=5, body='[{"price_cents":1320}]').verdict == "full"
    assert classify(browse, topo, status=200, elapsed_ms=5, body="[]").verdict == "wrong"  # neither
    assert classify(browse, topo, status=503, elapsed_ms=5, body='"price_cents":null').verdict == "failed_fast"
    # the degraded header, when the service sends one, is what names the fallbacks
    assert classify(browse, topo, status=200, elapsed_ms=5, body='"price_cents":null',
                    headers={"x-cascade-degraded": "cache"}).fallbacks == ("cache",)


def test_a_degraded_body_that_is_not_a_regex_is_refused_at_load():
    with pytest.raises(HarnessError, match=r"journeys.browse.degraded_body: '\(\(' is not a regular expression"):
        Topology.from_dict({"services": {"shop": {}}, "journeys": {"browse": {
            "service": "shop", "path": "/", "edges": [], "budget_ms": 500, "degraded_body": "(("}}})
