"""Fixtures of the shop's scenarios: run them on the shop's topology, from a calm baseline.

    .venv/bin/pytest --cascade-topology examples/shop/topology.toml examples/shop/scenarios
"""

from __future__ import annotations

import time

import pytest

from harness.mesh import Mesh
from harness.observe.journeys import SteadyState

BASELINE_WITHIN_S = 20.0


@pytest.fixture(scope="session")
def baseline(cascade_mesh: Mesh) -> SteadyState:
    """The steady state, measured on a calm shop (every journey full), before any fault."""
    mesh = cascade_mesh
    if mesh.topology.name != "shop":
        pytest.exit(f"examples/shop/scenarios run on the shop's topology, not {mesh.topology.name!r}: "
                    "pass --cascade-topology examples/shop/topology.toml", returncode=pytest.ExitCode.USAGE_ERROR)
    deadline = time.monotonic() + BASELINE_WITHIN_S
    last: dict[str, str] = {}
    while time.monotonic() < deadline:
        last = {n: mesh.journey(n).verdict for n in sorted(mesh.topology.journeys)}
        if set(last.values()) != {"full"}:
            continue
        steady = mesh.steady_state(refresh=True)
        if {b.verdict for b in steady.baselines.values()} == {"full"} and \
                {o.verdict for o in steady.observations().values()} == {"full"}:
            return steady
    pytest.fail(f"no calm, all-full steady state within {BASELINE_WITHIN_S:.0f} s; last: {last}")


@pytest.fixture(autouse=True)
def calm(mesh: Mesh, baseline: SteadyState) -> SteadyState:
    """Every scenario starts on the reset mesh, judged against the calm baseline."""
    return baseline


def observe_the_rest(mesh: Mesh, chaos) -> None:
    """Every journey not yet observed during the faults, one at a time (not all at once on two cores)."""
    for name in sorted(mesh.topology.journeys):
        if name not in chaos.during:
            mesh.journey(name)
