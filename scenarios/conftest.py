"""Fixtures of the resilience suite: a trustworthy baseline, and every scenario starting from it."""

from __future__ import annotations

import time

import pytest

from harness.mesh import Mesh
from harness.observe.journeys import SteadyState

from .support import restore_seeded_home

BASELINE_WITHIN_S = 30.0
CALM_ROUNDS = 2  # one-at-a-time rounds of every journey, all full, before the baseline is measured


@pytest.fixture(scope="session")
def baseline(cascade_mesh: Mesh) -> SteadyState:
    """The steady state, re-measured once on a calm mesh before any fault, with every journey `full`.

    The plugin measures it right after start-up; on a busy machine services are still warming
    up then and a breaker may have opened on a slow first call, so a journey can come out
    degraded or failed in two of its three samples and become the baseline every scenario is
    judged against. And the blast radius compares with one sample per journey (the
    median-latency one) whatever its verdict (reported as a harness bug). With no fault
    anywhere every journey of the bundled mesh is full, so: wait until two one-at-a-time
    rounds are all full, then measure until both the baseline verdicts and the compared
    samples are all full.
    """
    mesh = cascade_mesh
    names = sorted(mesh.topology.journeys)
    deadline = time.monotonic() + BASELINE_WITHIN_S
    calm = 0
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        if calm < CALM_ROUNDS:
            last = {n: mesh.journey(n).verdict for n in names}
            calm = calm + 1 if set(last.values()) == {"full"} else 0
            continue
        steady = mesh.steady_state(refresh=True)
        last = {n: f"{b.verdict} (compared sample: {steady.observations()[n].verdict})" for n, b in steady.baselines.items()}
        if {b.verdict for b in steady.baselines.values()} == {"full"} and \
                {o.verdict for o in steady.observations().values()} == {"full"}:
            return steady
        calm = 0
    pytest.fail(f"no calm, all-full steady state within {BASELINE_WITHIN_S:.0f} s of start-up; last: {last}")


@pytest.fixture(autouse=True)
def seeded_home(mesh: Mesh, baseline: SteadyState) -> SteadyState:
    """Every scenario starts from the calm baseline and from the seeded home timelines (see `restore_seeded_home`).

    `mesh` has already reset the proxies and processes and, after a faulted scenario, waited
    until every journey is back at its baseline verdict (breakers closed again).
    """
    restore_seeded_home(mesh)
    return baseline
