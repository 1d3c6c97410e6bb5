"""The compose plan, without an engine: the override reroutes each edge and nothing else."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.errors import ProvisionError, UsageError
from harness.modes import parse_mode
from harness.runtime.compose_plan import (
    HOST,
    TOXIPROXY_SERVICE,
    build_override,
    compose_command,
    override_header,
    proxy_specs,
)
from harness.topology import load_topology

ROOT = Path(__file__).parents[2]
TOPOLOGY = load_topology(ROOT / "services" / "topology.toml")
PORTS = {name: 10000 + i for i, name in enumerate(sorted(TOPOLOGY.edges))}


def override(mode: str = "resilient", **kw):
    return build_override(TOPOLOGY, parse_mode(mode, TOPOLOGY.knobs), "s3cret", PORTS, **kw)["services"]


def test_every_edge_variable_points_at_its_own_proxy_and_nothing_else_is_rerouted():
    services = override()
    for edge in TOPOLOGY.edges.values():
        env = services[TOPOLOGY.services[edge.caller].compose_service]["environment"]
        assert env[edge.env] == edge.address(TOXIPROXY_SERVICE, PORTS[edge.name])
    rerouted = {(TOPOLOGY.services[e.caller].compose_service, e.env) for e in TOPOLOGY.edges.values()}
    for name, svc in services.items():
        if name == TOXIPROXY_SERVICE:
            continue
        for var, value in svc["environment"].items():
            if TOXIPROXY_SERVICE in value:
                assert (name, var) in rerouted, f"{name}.{var} points at toxiproxy but is no edge's variable"


def test_the_override_names_only_declared_services_and_toxiproxy():
    declared = {s.compose_service for s in TOPOLOGY.services.values()}
    assert set(override()) == declared | {TOXIPROXY_SERVICE}


def test_every_published_port_is_bound_to_loopback_only():
    for name, svc in override().items():
        for port in svc.get("ports", []):
            assert port.startswith(f"{HOST}:"), f"{name} publishes {port} beyond 127.0.0.1"


def test_proxies_stay_unpublished_when_asked():
    tp = override(publish_proxies=False)[TOXIPROXY_SERVICE]
    assert len(tp["ports"]) == 1  # the API only


def test_toxiproxy_runs_unprivileged_read_only_and_never_restarts_behind_the_harness():
    tp = override()[TOXIPROXY_SERVICE]
    assert tp["user"] != "0" and not tp["user"].startswith("0:")
    assert tp["cap_drop"] == ["ALL"] and tp["read_only"] is True and tp["init"] is True
    assert all(svc["restart"] == "no" for svc in override().values())
    assert not any("docker.sock" in str(v) for svc in override().values() for v in svc.values())


def test_the_mode_and_the_config_token_reach_every_service():
    brittle = override("brittle:timeouts")
    for name, svc in brittle.items():
        if name == TOXIPROXY_SERVICE:
            continue
        assert svc["environment"]["CASCADE_CONFIG_TOKEN"] == "s3cret"
        assert svc["environment"]["CASCADE_MODE"] == "brittle"
    assert override()["timeline"]["environment"] != brittle["timeline"]["environment"]


def test_one_proxy_per_edge_to_the_callee_by_compose_service_name():
    specs = {s.name: s for s in proxy_specs(TOPOLOGY, PORTS)}
    assert set(specs) == set(TOPOLOGY.edges)
    for name, spec in specs.items():
        callee = TOPOLOGY.services[TOPOLOGY.edges[name].callee]
        assert spec.upstream == f"{callee.compose_service}:{callee.container_port}"
        assert spec.listen == f"0.0.0.0:{PORTS[name]}"


def _fake_bin(tmp_path: Path, name: str, exit_code: int) -> None:
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\nexit {exit_code}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.mark.parametrize("v2_works, v1_present, forced, expected", [
    (True, True, "", "v2"),
    (False, True, "", "v1"),
    (True, True, "v1", "v1"),
    (True, False, "v2", "v2"),
])
def test_compose_v2_is_preferred_and_either_can_be_forced(tmp_path, v2_works, v1_present, forced, expected):
    _fake_bin(tmp_path, "docker", 0 if v2_works else 1)
    if v1_present:
        _fake_bin(tmp_path, "docker-compose", 0)
    cmd = compose_command({"PATH": str(tmp_path), "CASCADE_COMPOSE": forced})
    assert (cmd[-1] == "compose") == (expected == "v2")


def test_a_missing_compose_says_how_to_get_one(tmp_path):
    with pytest.raises(ProvisionError, match="docker/engine.sh"):
        compose_command({"PATH": str(tmp_path)})


def test_a_bad_forced_compose_is_named(tmp_path):
    with pytest.raises(UsageError, match="'v3'"):
        compose_command({"PATH": str(tmp_path), "CASCADE_COMPOSE": "v3"})


def test_the_overrides_header_names_every_variable_it_sets_and_nothing_it_does_not():
    import json

    header = override_header(TOPOLOGY, "docker/compose.yaml")
    assert all(line.startswith("# ") for line in header.splitlines())
    set_vars = {var for svc in override().values() for var in svc.get("environment", {})}
    edge_vars = {e.env for e in TOPOLOGY.edges.values()}
    for var in set_vars - edge_vars:  # every other variable it sets is named in the header
        assert var in header, f"{var} is set by the override but not named at its top"
    assert "over any value your file gives" in header and "every other variable stay yours" in header
    # the header is YAML comments in front of the JSON document: both compose versions read it
    text = header + json.dumps({"services": override()})
    assert json.loads(text.split("\n", len(header.splitlines()))[-1]) == {"services": override()}
