"""The compose plan, without an engine: the override reroutes each edge and nothing else, HTTP edges through Envoy."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from harness.errors import ProvisionError, UsageError
from harness.modes import parse_mode
from harness.runtime.compose_plan import (
    ENVOY_ADMIN_PORT,
    ENVOY_DIR,
    ENVOY_SERVICE,
    HOST,
    TOXIPROXY_SERVICE,
    build_override,
    compose_command,
    engine_listeners,
    engine_ports,
    override_header,
    proxy_specs,
)
from harness.topology import load_topology

ROOT = Path(__file__).parents[2]
TOPOLOGY = load_topology(ROOT / "services" / "topology.toml")
SHOP = load_topology(ROOT / "tests" / "fixtures" / "shop" / "topology.toml")  # one edge, to Redis: no HTTP edge
PORTS = {name: 10000 + i for i, name in enumerate(sorted(TOPOLOGY.edges))}
ENGINE_DIR = "/state/runs/r1/envoy"
ENGINE_COMMAND = ["/usr/local/bin/envoy", "-c", f"{ENVOY_DIR}/envoy.json", "--concurrency", "1"]
HARNESS = {TOXIPROXY_SERVICE, ENVOY_SERVICE}  # the services the override adds


@pytest.fixture(autouse=True)
def _engine_on_by_default(monkeypatch):
    monkeypatch.delenv("CASCADE_HTTP_ENGINE", raising=False)  # whatever the shell running the tests says


def override(mode: str = "resilient", topology=TOPOLOGY, ports=PORTS, **kw):
    kw = {"engine_dir": ENGINE_DIR, "engine_command": ENGINE_COMMAND, **kw}
    return build_override(topology, parse_mode(mode, topology.knobs), "s3cret", ports, **kw)["services"]


def test_every_edge_variable_points_at_its_own_proxy_and_nothing_else_is_rerouted():
    services = override()
    for edge in TOPOLOGY.edges.values():
        env = services[TOPOLOGY.services[edge.caller].compose_service]["environment"]
        assert env[edge.env] == edge.address(TOXIPROXY_SERVICE, PORTS[edge.name])
    rerouted = {(TOPOLOGY.services[e.caller].compose_service, e.env) for e in TOPOLOGY.edges.values()}
    for name, svc in services.items():
        if name in HARNESS:
            continue
        for var, value in svc["environment"].items():
            if TOXIPROXY_SERVICE in value:
                assert (name, var) in rerouted, f"{name}.{var} points at toxiproxy but is no edge's variable"


def test_the_override_names_only_declared_services_toxiproxy_and_envoy():
    declared = {s.compose_service for s in TOPOLOGY.services.values()}
    assert set(override()) == declared | {TOXIPROXY_SERVICE, ENVOY_SERVICE}


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
        if name in HARNESS:
            continue
        assert svc["environment"]["CASCADE_CONFIG_TOKEN"] == "s3cret"
        assert svc["environment"]["CASCADE_MODE"] == "brittle"
    assert override()["timeline"]["environment"] != brittle["timeline"]["environment"]


def test_one_proxy_per_edge_to_envoy_on_http_edges_and_to_the_callee_by_compose_service_name_on_the_others():
    specs = {s.name: s for s in proxy_specs(TOPOLOGY, PORTS)}
    assert set(specs) == set(TOPOLOGY.edges)
    engine = engine_ports(TOPOLOGY)
    assert set(engine) == {e.name for e in TOPOLOGY.edges.values() if e.is_http} and "timeline->redis" not in engine
    assert len(set(engine.values())) == len(engine)  # one listener each
    for name, spec in specs.items():
        callee = TOPOLOGY.services[TOPOLOGY.edges[name].callee]
        if name in engine:
            assert spec.upstream == f"{ENVOY_SERVICE}:{engine[name]}"
        else:
            assert spec.upstream == f"{callee.compose_service}:{callee.container_port}"
        assert spec.listen == f"0.0.0.0:{PORTS[name]}"


def test_envoy_listens_per_http_edge_and_reaches_the_callee_by_compose_service_name():
    engine = engine_ports(TOPOLOGY)
    listeners = {e.edge: e for e in engine_listeners(TOPOLOGY, engine)}
    assert set(listeners) == set(engine)
    for name, lst in listeners.items():
        callee = TOPOLOGY.services[TOPOLOGY.edges[name].callee]
        assert lst.listen_port == engine[name] and lst.upstream == (callee.compose_service, callee.container_port)


def test_the_envoy_service_runs_the_engines_command_unprivileged_on_its_routes_mounted_read_only():
    ev = override()[ENVOY_SERVICE]
    assert ev["entrypoint"] + ev["command"] == ENGINE_COMMAND
    assert ev["user"] == "65534:65534" and ev["cap_drop"] == ["ALL"] and ev["read_only"] is True and ev["init"] is True
    assert ev["security_opt"] == ["no-new-privileges:true"] and ev["restart"] == "no"
    # the run's envoy directory, read-only, is the only thing of the host it sees
    assert ev["volumes"] == [{"type": "bind", "source": ENGINE_DIR, "target": ENVOY_DIR, "read_only": True}]
    assert ev["ports"] == [f"{HOST}::{ENVOY_ADMIN_PORT}"]  # the admin API, ephemeral, on loopback


def test_the_envoy_service_is_there_iff_the_topology_has_http_edges():
    assert ENVOY_SERVICE in override()
    shop_ports = {"catalog->redis": 10000}
    assert engine_ports(SHOP) == {}
    shop = override(topology=SHOP, ports=shop_ports, engine_dir=None, engine_command=())  # nothing needed
    assert set(shop) == {"redis", "catalog", TOXIPROXY_SERVICE}
    redis = SHOP.services["redis"]
    assert [s.upstream for s in proxy_specs(SHOP, shop_ports)] == [f"{redis.compose_service}:{redis.container_port}"]


def test_with_the_engine_off_the_plan_is_the_one_without_envoy(monkeypatch):
    monkeypatch.setenv("CASCADE_HTTP_ENGINE", "off")
    assert engine_ports(TOPOLOGY) == {}
    services = override(engine_dir=None, engine_command=())
    assert set(services) == {s.compose_service for s in TOPOLOGY.services.values()} | {TOXIPROXY_SERVICE}
    assert "volumes" not in services[TOXIPROXY_SERVICE]
    for spec in proxy_specs(TOPOLOGY, PORTS):  # every proxy straight to its callee, as before the engine
        callee = TOPOLOGY.services[TOPOLOGY.edges[spec.name].callee]
        assert spec.upstream == f"{callee.compose_service}:{callee.container_port}"
    assert ENVOY_SERVICE not in override_header(TOPOLOGY, "docker/compose.yaml")
    # and the explicit form the runtime uses says the same
    monkeypatch.delenv("CASCADE_HTTP_ENGINE")
    assert override(engine={}, engine_dir=None, engine_command=()) == services


def test_http_edges_without_the_engines_directory_are_refused_not_planned_half():
    with pytest.raises(ValueError, match="engine_dir and engine_command"):
        override(engine_dir=None, engine_command=())


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
    assert f"adds the service '{ENVOY_SERVICE}'" in header and ENVOY_DIR in header
    set_vars = {var for svc in override().values() for var in svc.get("environment", {})}
    edge_vars = {e.env for e in TOPOLOGY.edges.values()}
    for var in set_vars - edge_vars:  # every other variable it sets is named in the header
        assert var in header, f"{var} is set by the override but not named at its top"
    assert "over any value your file gives" in header and "every other variable stay yours" in header
    # the header is YAML comments in front of the JSON document: both compose versions read it
    text = header + json.dumps({"services": override()})
    assert json.loads(text.split("\n", len(header.splitlines()))[-1]) == {"services": override()}


def test_knobs_env_reaches_every_service_of_the_example_and_the_header_says_so():
    shop = load_topology(ROOT / "examples" / "shop" / "topology.toml")
    ports = {name: 10000 + i for i, name in enumerate(sorted(shop.edges))}
    services = override("brittle:early_ack", shop, ports)
    assert {n: s["environment"]["SHOP_NAIVE"] for n, s in services.items() if n in shop.services} == \
        {n: "early_ack" for n in shop.services}
    assert "SHOP_NAIVE -> the brittle knobs again" in override_header(shop, "compose.yaml")
