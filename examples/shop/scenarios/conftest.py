"""Fixtures of the shop's scenarios: run them on the shop's topology, from a calm baseline.

    .venv/bin/pytest --cascade-topology examples/shop/topology.toml examples/shop/scenarios
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.mesh import Mesh
from harness.observe.journeys import SteadyState

BASELINE_WITHIN_S = 20.0
HERE = Path(__file__).parent


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Stop before any mesh starts when these scenarios would run on another topology (the ini's default)."""
    from harness.plugin import SETTINGS

    s = config.stash.get(SETTINGS, None)
    ours = any(HERE in Path(str(item.path)).parents for item in items)
    if ours and s is not None and s.topology is not None and s.topology.name != "shop":
        raise pytest.UsageError(f"examples/shop/scenarios run on the shop's topology, not {s.topology.name!r} "
                                f"({s.topology_path}): pass --cascade-topology examples/shop/topology.toml")


@pytest.fixture(scope="session")
def baseline(cascade_mesh: Mesh) -> SteadyState:
    """The steady state, measured on a calm shop (every journey full), before any fault."""
    mesh = cascade_mesh
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
