"""BadConfig against the bundled config service: the push is verified, and revert restores the previous document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.chaos import Chaos
from harness.errors import ConfigPushError, RevertFailed
from harness.faults import DELETE, BadConfig
from harness.mesh import Mesh
from harness.topology import load_topology

pytestmark = pytest.mark.integration

TOPOLOGY = load_topology(Path(__file__).parents[2] / "services" / "topology.toml")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with Mesh(TOPOLOGY, state_dir=tmp_path_factory.mktemp("state")) as m:
        yield m


@pytest.mark.parametrize("fault", [
    BadConfig(raw='{"plans": {'),
    BadConfig(patch={"timeouts_ms.redis": 0}),
    BadConfig(patch={"rate_limits": DELETE}),
    BadConfig({"plans": "not a table"}),
], ids=["malformed", "out_of_range", "missing_section", "wrong_type"])
def test_a_push_changes_the_version_and_revert_restores_the_document(mesh, fault):
    config = mesh.config()
    before = config.current()
    chaos = Chaos(mesh, observe=False)
    with chaos.inject(fault):
        during = config.current()
        assert during.version == before.version + 1
        assert during.raw != before.raw
        if fault.patch and "rate_limits" in json.dumps(fault.params()):
            assert "rate_limits" not in during.document
    after = config.current()
    assert after.version == before.version + 2  # a rollback is a new version, as in the real store
    assert after.raw == before.raw
    assert [ev.action for ev in chaos.timeline] == ["applied", "reverted"]
    notes = [h["note"] for h in config.history()[-2:]]
    assert notes[0].startswith("cascade: BadConfig(")
    chaos.close()


def test_a_push_without_the_token_is_refused_by_the_service(mesh):
    from harness.configpush import ConfigClient

    host, port = mesh.address("config")
    with pytest.raises(ConfigPushError, match="401.*config push needs a valid bearer token"):
        ConfigClient(host, port, "wrong-token").push("{}")


def test_a_revert_that_cannot_reach_the_config_service_fails_loudly(tmp_path):
    with Mesh(TOPOLOGY, state_dir=tmp_path) as m:
        chaos = Chaos(m, observe=False)
        chaos.apply(BadConfig(patch={"timeouts_ms.redis": 0}))
        m.runtime.kill("config")
        with pytest.raises(RevertFailed, match=r"could not revert BadConfig\(.*config service at .* did not answer"):
            chaos.revert_all()
        chaos.close()
