"""Project glue for the bundled scenarios only: fixtures that know about the bundled mesh's story."""

from __future__ import annotations

import pytest

from harness.observe.load import Load
from harness.mesh import Mesh


@pytest.fixture
def load(mesh: Mesh):
    """Start a bounded background load: `load("login", "home", rate_per_s=40, duration_s=2)`."""
    started: list[Load] = []

    def start(*journeys: str, rate_per_s: float = 40, duration_s: float = 2.0,
              until_acked: int | None = None) -> Load:
        lo = Load(mesh, journeys, rate_per_s=rate_per_s, duration_s=duration_s, until_acked=until_acked)
        lo.start()
        started.append(lo)
        return lo

    yield start
    for lo in started:
        lo.stop()  # never leave load running into the next test
