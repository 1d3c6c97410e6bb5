"""The baseline gate's pure part: which journeys are broken at rest, and the fix each error names."""

from __future__ import annotations

import pytest

from harness.judge.at_rest import at_rest_problems, likely_fix, settle_at_rest
from harness.errors import BrokenAtRest, InvalidTopology
from harness.observe.journeys import Baseline, SteadyState
from harness.topology import Topology
from harness.judge.verdicts import classify

TOPO = Topology.from_dict({
    "mesh": {"name": "shop"},
    "services": {"catalog": {}, "pricing": {}},
    "edges": {"catalog->pricing": {"env": "PRICING_URL"}},
    "journeys": {
        "product": {"service": "catalog", "path": "/products/1", "edges": ["catalog->pricing"], "budget_ms": 800,
                    "expect_body": "price"},
        "list": {"service": "catalog", "path": "/", "edges": [], "budget_ms": 500},
        "promo": {"service": "catalog", "path": "/promo", "edges": [], "budget_ms": 500, "at_rest": "degraded"},
    },
})  # fmt: skip


def _obs(journey: str, status: int | None, body: str = "", *, ms: float = 3.0, headers=None, error: str = ""):
    return classify(TOPO.journey(journey), TOPO, status=status, elapsed_ms=ms, body=body, headers=headers or {},
                    error=error)


def _steady(**obs) -> SteadyState:
    return SteadyState({n: Baseline(n, o.verdict, o.elapsed_ms, o.elapsed_ms, (o, o, o)) for n, o in obs.items()})


def test_a_journey_answering_404_at_rest_is_named_with_its_answer_and_the_path_to_fix():
    problems = at_rest_problems(TOPO, {"product": _obs("product", 404, '{"error": "no such route"}', ms=1.0),
                                       "list": _obs("list", 200)})
    assert [p.journey for p in problems] == ["product"]
    line = problems[0].line()
    assert line.startswith("journey 'product': failed_fast at rest, wanted full: "
                           "GET /products/1 on catalog answered HTTP 404 in 1 ms")
    assert "no such route" in line
    assert "is journeys.product.path right?" in line and "GET /products/1 on catalog" in line


def test_a_wrong_answer_at_rest_names_the_journey_the_request_its_status_and_the_start_of_the_body():
    body = "<html>Welcome to nginx! " + "x" * 500
    (problem,) = at_rest_problems(TOPO, {"product": _obs("product", 200, body)})
    line = problem.line()
    assert line.startswith("journey 'product': wrong at rest, wanted full: "
                           "GET /products/1 on catalog answered HTTP 200 in 3 ms, body '<html>Welcome to nginx!")
    assert "body lacks 'price'" in line and "journeys.product.expect_body = 'price'" in line
    assert "x" * 200 not in line  # the start of the body, not all of it
    (silent,) = at_rest_problems(TOPO, {"list": _obs("list", None, error="connection refused")})
    assert "GET / on catalog: no answer (connection refused)" in silent.line()


def test_a_better_verdict_than_declared_passes_and_a_worse_one_does_not():
    degraded = {"x-cascade-degraded": "cache"}
    assert at_rest_problems(TOPO, {"promo": _obs("promo", 200)}) == ()  # declared degraded, answered full
    assert at_rest_problems(TOPO, {"promo": _obs("promo", 200, headers=degraded)}) == ()
    assert [p.expected for p in at_rest_problems(TOPO, {"promo": _obs("promo", 503)})] == ["degraded"]
    assert [p.journey for p in at_rest_problems(TOPO, {"list": _obs("list", 200, headers=degraded)})] == ["list"]


@pytest.mark.parametrize("status, body, headers, error, ms, fix", [
    (200, "no match", {}, "", 3.0, "the body lacks journeys.product.expect_body = 'price'"),
    (403, "", {}, "", 3.0, "refused (403): does it need journeys.product.headers"),
    (422, "", {}, "", 3.0, "check journeys.product.method, .path, .headers and .json"),
    (201, "price", {}, "", 3.0, "journeys.product.expect_status is [200]; is 201 the right answer?"),
    (200, "price", {"x-cascade-degraded": "pricing"}, "", 3.0, 'declare journeys.product.at_rest = "degraded"'),
    (200, "price", {}, "", 900.0, "no answer within journeys.product.budget_ms = 800"),
    (None, "", {}, "connection refused", 1.0, "catalog did not answer"),
    (502, "", {}, "", 3.0, "a dependency of it is down or misconfigured"),
])  # fmt: skip
def test_each_kind_of_broken_answer_names_its_likely_fix(status, body, headers, error, ms, fix):
    obs = _obs("product", status, body, ms=ms, headers=headers, error=error)
    assert fix in likely_fix(TOPO.journey("product"), TOPO, obs)


def test_the_gate_measures_again_until_the_journeys_settle():
    rounds = [_steady(list=_obs("list", 503)), _steady(list=_obs("list", 200))]
    now = [0.0]
    steady = settle_at_rest(TOPO, lambda: rounds.pop(0), within_s=5.0, clock=lambda: now[0],
                            sleep=lambda s: now.__setitem__(0, now[0] + s))
    assert steady.verdicts() == {"list": "full"} and rounds == []


def test_the_gate_raises_one_line_per_broken_journey_after_its_window():
    calls = []
    now = [0.0]

    def measure():
        calls.append(now[0])
        return _steady(product=_obs("product", 404), list=_obs("list", 200), promo=_obs("promo", 500))

    with pytest.raises(BrokenAtRest) as info:
        settle_at_rest(TOPO, measure, within_s=2.0, clock=lambda: now[0], sleep=lambda s: now.__setitem__(0, now[0] + s),
                       interval_s=0.5)
    text = str(info.value)
    assert text.splitlines()[0] == ("2 of 3 journeys of 'shop' are broken before any fault (measured for 2.0 s "
                                    "after start-up); nothing was injected, no scenario was judged:")
    assert [line.split(":")[0] for line in text.splitlines()[1:]] == ["  - journey 'product'", "  - journey 'promo'"]
    assert len(calls) == 5  # 0, 0.5, 1.0, 1.5, 2.0


def test_at_rest_is_validated_and_left_out_of_the_digest_when_default():
    data = {"services": {"a": {}}, "edges": {}, "journeys": {"j": {"service": "a", "path": "/", "edges": [],
                                                                    "budget_ms": 100}}}
    plain = Topology.from_dict(data)
    data["journeys"]["j"]["at_rest"] = "full"
    assert Topology.from_dict(data).digest() == plain.digest()
    data["journeys"]["j"]["at_rest"] = "degraded"
    assert Topology.from_dict(data).journey("j").at_rest == "degraded"
    assert Topology.from_dict(data).digest() != plain.digest()
    data["journeys"]["j"]["at_rest"] = "hung"
    with pytest.raises(InvalidTopology, match=r"^journeys\.j\.at_rest: 'hung' is not a verdict a journey may answer "
                                              r"before any fault; use 'full' or 'degraded' \(default 'full'\)$"):
        Topology.from_dict(data)
