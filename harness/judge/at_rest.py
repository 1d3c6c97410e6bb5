"""The baseline gate: nothing is judged on a mesh whose journeys are broken before any fault.

    start ─> steady state (every journey, 3 samples) ─> each at its declared `at_rest` verdict?
               ^                                           │ no: measure again, until AT_REST_WITHIN_S
               └───────────────────────────────────────────┘ still no: BrokenAtRest, one line per journey

A journey declared with a path that answers 404 is `failed_fast` at rest. Without this gate a
scenario that takes that journey's dependency down and asserts the blast radius passes (the
journey's verdict did not change: it was failing already), and a latency scenario fails with a
message about the fault that has nothing to do with it. The gate runs wherever a baseline is
first measured (the pytest plugin before the first scenario, `cascade up`, exploration, replay),
so no run can start judging such a mesh.

A journey is held to its topology's `at_rest` (default `full`); a better verdict than that
passes (a journey declared `degraded` that answers `full` is not broken). The pure part decides
which journeys are off and words the fix; `settle_at_rest` is the small loop around it, with
the clock and the sleep passed in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Mapping

from ..errors import BrokenAtRest
from .verdicts import Observation, worse

if TYPE_CHECKING:
    from ..observe.journeys import SteadyState
    from ..topology import Journey, Topology

__all__ = ["AT_REST_WITHIN_S", "AtRestProblem", "at_rest_problems", "broken_at_rest", "likely_fix",
           "settle_at_rest"]

AT_REST_WITHIN_S = 10.0  # how long a just-started mesh may take to answer every journey as declared
EXCERPT = 120


@dataclass(frozen=True)
class AtRestProblem:
    """One journey that answered worse at rest than its topology says it should."""

    journey: str
    expected: str
    observation: Observation
    fix: str
    request: str = ""  # what was asked, "GET /products/1 on catalog", so the line says which path answered what

    def line(self) -> str:
        o = self.observation
        answer = f"HTTP {o.status}" if o.status is not None else f"no answer ({o.error or 'no reply'})"
        if self.request:
            answer = f"{self.request} answered {answer}" if o.status is not None else f"{self.request}: {answer}"
        excerpt = " ".join(o.body_excerpt.split())[:EXCERPT]
        body = f", body {excerpt!r}" if excerpt else ""
        return (f"journey {self.journey!r}: {o.verdict} at rest, wanted {self.expected}: "
                f"{answer} in {o.elapsed_ms:.0f} ms{body} ({o.reason}); {self.fix}")


def likely_fix(journey: Journey, topology: Topology, obs: Observation) -> str:
    """The most likely cause of a journey being off at rest, worded as what to check or change."""
    where = f"journeys.{journey.name}"  # the request itself is in AtRestProblem.line, before the fix
    if obs.status == 404:
        return f"is {where}.path right? it must be a route {journey.service} serves"
    if obs.status in (401, 403):
        return (f"refused ({obs.status}): does it need {where}.headers (a token, a plan), "
                "or is a config denying it?")
    if obs.status is not None and 400 <= obs.status < 500:
        return (f"check {where}.method, .path, .headers and .json, "
                f"and {where}.expect_status (now {list(journey.expect_status)})")
    if obs.status is not None and 200 <= obs.status < 400 and obs.status not in journey.expect_status:
        return f"{where}.expect_status is {list(journey.expect_status)}; is {obs.status} the right answer? then add it"
    if obs.verdict == "wrong" and journey.expect_body and journey.expect_body not in obs.body_excerpt:
        return f"the body lacks {where}.expect_body = {journey.expect_body!r}: is the expected text right?"
    if obs.verdict == "wrong" and obs.leaked:
        return "the body matches one of [mesh] leak_patterns: at rest that is a real leak, or a pattern too broad"
    if obs.verdict == "degraded":
        return (f"it answered with fallbacks ({', '.join(obs.fallbacks)}) with no fault anywhere: a dependency is "
                f"down or not ready; if that is honest, declare {where}.at_rest = \"degraded\"")
    if obs.verdict == "hung":
        return (f"no answer within {where}.budget_ms = {journey.budget_ms}: is the budget too small for this "
                "machine, or is a dependency not answering?")
    if obs.status is None:
        return f"{journey.service} did not answer: is it listening on the port the runtime gave it?"
    return (f"{journey.service} answered {obs.status} with no fault anywhere: a dependency of it is down or "
            "misconfigured (see its log)")


def at_rest_problems(topology: Topology, observations: Mapping[str, Observation]) -> tuple[AtRestProblem, ...]:
    """The journeys whose observation is worse than their declared `at_rest` verdict, by name."""
    out = []
    for name in sorted(observations):
        journey, obs = topology.journey(name), observations[name]
        if worse(obs.verdict, journey.at_rest):
            out.append(AtRestProblem(name, journey.at_rest, obs, likely_fix(journey, topology, obs),
                                     request=f"{journey.method} {journey.path} on {journey.service}"))
    return tuple(out)


def _offending(topology: Topology, steady: SteadyState) -> tuple[AtRestProblem, ...]:
    """Problems of a steady state: its baseline verdict, shown with the sample that has it."""
    chosen = {}
    for name, b in steady.baselines.items():
        chosen[name] = next((o for o in b.samples if o.verdict == b.verdict), b.samples[0])
    return at_rest_problems(topology, chosen)


def broken_at_rest(topology: Topology, problems: tuple[AtRestProblem, ...], waited_s: float) -> BrokenAtRest:
    """The gate's error: one line per journey, what it answered, what was expected, the likely fix."""
    head = (f"{len(problems)} of {len(topology.journeys)} journeys of {topology.name!r} are broken before any fault "
            f"(measured for {waited_s:.1f} s after start-up); nothing was injected, no scenario was judged:")
    return BrokenAtRest("\n".join([head, *(f"  - {p.line()}" for p in problems)]))


def settle_at_rest(
    topology: Topology,
    measure: Callable[[], SteadyState],
    *,
    within_s: float = AT_REST_WITHIN_S,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    interval_s: float = 0.2,
) -> SteadyState:
    """Measure until every journey's baseline is at its declared verdict; BrokenAtRest after `within_s`."""
    started = clock()
    while True:
        steady = measure()
        problems = _offending(topology, steady)
        if not problems:
            return steady
        if clock() - started >= within_s:
            raise broken_at_rest(topology, problems, clock() - started)
        sleep(interval_s)
