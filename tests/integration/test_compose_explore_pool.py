"""`cascade explore --workers 2 --runtime compose`: two compose projects at once, each worker its own.

The bundled mesh on Docker Compose, brittle on one knob: the pool finds the failure, classifies
it by rerunning it (reproducible or flaky: on two cores, two compose meshes slow each other down,
and a rerun is what keeps a slow moment from being reported as a reproducible failure), journals
it, and leaves no compose project behind. Needs a Docker engine and the images; skipped with the
reason otherwise, unless CASCADE_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.explore.journal import Journal
from harness.explore.pool import ExploreSpec, explore

from .conftest import skip_module_without_compose

pytestmark = pytest.mark.integration

skip_module_without_compose()

BUNDLED = Path(__file__).parents[2] / "services" / "topology.toml"
KNOB = "fallbacks"


def test_two_workers_explore_on_two_compose_projects_and_leave_none(tmp_path, monkeypatch):
    from harness.runtime.compose import cascade_projects

    monkeypatch.setenv("CASCADE_COMPOSE", "v2")
    before = cascade_projects()
    spec = ExploreSpec(str(BUNDLED), 30.0, 5, mode=f"brittle:{KNOB}", runtime="compose",
                       database_dir=tmp_path / "db", journal_dir=tmp_path / "journals", state_dir=tmp_path / "state",
                       process_faults=False, config_faults=False)
    result = explore(spec, workers=2)
    assert result.failed, f"no failure in {result.examples} examples on brittle:{KNOB}"
    assert Journal.load(result.journal_path) == result.journal
    assert json.loads(result.journal_path.read_text())["classification"] in ("reproducible", "flaky")
    assert list((tmp_path / "state").glob("worker-*/runs/*/state.json")) == []  # both meshes are down
    assert cascade_projects() <= before, f"left behind: {sorted(cascade_projects() - before)}"
