"""Where the compose runtime's engine is and where its ports are reached, from DOCKER_HOST and CASCADE_DOCKER_ADDRESS (pure)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harness.errors import UsageError
from harness.mesh import Mesh
from harness.modes import parse_mode
from harness.runtime import compose
from harness.runtime.compose import ComposeRuntime, reap_compose_project
from harness.runtime.compose_plan import ENVOY_DIR, ENVOY_SERVICE, TOXIPROXY_SERVICE, build_override, override_header
from harness.runtime.docker_host import DockerHost, docker_host_from_env, remote_problems
from harness.runtime.local import LocalRuntime
from harness.topology import load_topology

ROOT = Path(__file__).parents[2]
TOPOLOGY = load_topology(ROOT / "services" / "topology.toml")
PORTS = {name: 10000 + i for i, name in enumerate(sorted(TOPOLOGY.edges))}


@pytest.mark.parametrize("env, address, bind, remote", [
    ({}, "127.0.0.1", "127.0.0.1", False),
    ({"DOCKER_HOST": ""}, "127.0.0.1", "127.0.0.1", False),
    ({"DOCKER_HOST": "unix:///var/run/docker.sock"}, "127.0.0.1", "127.0.0.1", False),
    ({"DOCKER_HOST": "tcp://docker:2375"}, "docker", "0.0.0.0", True),  # GitLab's docker:dind service
    ({"DOCKER_HOST": "tcp://10.1.2.3:2376"}, "10.1.2.3", "0.0.0.0", True),
    ({"DOCKER_HOST": "tcp://127.0.0.2:2375"}, "127.0.0.2", "127.0.0.2", True),  # loopback: published there only
    ({"DOCKER_HOST": "tcp://localhost:2375"}, "127.0.0.1", "127.0.0.1", True),  # never 0.0.0.0 for a name of loopback
    ({"DOCKER_HOST": "ssh://ci@build-box:22"}, "build-box", "0.0.0.0", True),
    ({"DOCKER_HOST": "tcp://docker:2375", "CASCADE_DOCKER_ADDRESS": "10.0.0.7"}, "10.0.0.7", "0.0.0.0", True),
    ({"CASCADE_DOCKER_ADDRESS": "127.0.0.3"}, "127.0.0.3", "127.0.0.3", False),
    ({"DOCKER_HOST": "tcp://docker:2375", "CASCADE_DOCKER_ADDRESS": " "}, "docker", "0.0.0.0", True),  # blank: unset
])
def test_the_address_defaults_to_docker_hosts_host_and_ports_bind_on_loopback_only_when_it_is_loopback(
        env: dict[str, str], address: str, bind: str, remote: bool) -> None:
    where = docker_host_from_env(env)
    assert (where.address, where.bind, where.remote) == (address, bind, remote)
    assert where.url == env.get("DOCKER_HOST", "").strip()


@pytest.mark.parametrize("env, named, fix", [
    ({"DOCKER_HOST": "docker:2375"}, "DOCKER_HOST='docker:2375'", "tcp://HOST:2375"),
    ({"DOCKER_HOST": "tcp://"}, "DOCKER_HOST='tcp://'", "tcp://HOST:2375"),
    ({"DOCKER_HOST": "tcp://docker:twenty"}, "DOCKER_HOST='tcp://docker:twenty'", "tcp://HOST:2375"),
    ({"DOCKER_HOST": "fd://"}, "DOCKER_HOST='fd://'", "unix:///var/run/docker.sock"),
    ({"CASCADE_DOCKER_ADDRESS": "tcp://docker:2375"}, "CASCADE_DOCKER_ADDRESS='tcp://docker:2375'", "without scheme or port"),
    ({"CASCADE_DOCKER_ADDRESS": "docker:2375"}, "CASCADE_DOCKER_ADDRESS='docker:2375'", "without scheme or port"),
    ({"CASCADE_DOCKER_ADDRESS": "bad host"}, "CASCADE_DOCKER_ADDRESS='bad host'", "without scheme or port"),
    ({"CASCADE_DOCKER_ADDRESS": "::1"}, "CASCADE_DOCKER_ADDRESS='::1'", "IPv4 address or host name"),
    ({"DOCKER_HOST": "tcp://[fd00::5]:2375"}, "DOCKER_HOST='tcp://[fd00::5]:2375'", "IPv4 address or host name"),
])
def test_a_bad_value_is_named_with_its_fix_on_one_line(env: dict[str, str], named: str, fix: str) -> None:
    with pytest.raises(UsageError) as info:
        docker_host_from_env(env)
    message = str(info.value)
    assert named in message and fix in message and "\n" not in message, message


def test_the_runtime_reads_the_setting_before_anything_starts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://docker:2375")
    monkeypatch.delenv("CASCADE_DOCKER_ADDRESS", raising=False)
    rt = ComposeRuntime(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), compose_file=ROOT / "docker" / "compose.yaml",
                        state_dir=tmp_path)
    assert rt.host == "docker" and rt.docker_host.remote
    rt.toxiproxy_port, rt.ports, rt.proxy_ports = 32768, {"gateway": 32769}, {"gateway->auth": 32770}
    assert rt.toxiproxy_url == "http://docker:32768" and rt.address("gateway") == ("docker", 32769)
    monkeypatch.setenv("DOCKER_HOST", "tcp://docker:nope")
    with pytest.raises(UsageError, match="DOCKER_HOST='tcp://docker:nope'"):
        Mesh(TOPOLOGY, runtime="compose", state_dir=tmp_path)


def test_the_local_runtime_and_a_local_engine_are_reached_on_loopback(monkeypatch: pytest.MonkeyPatch,
                                                                       tmp_path: Path) -> None:
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("CASCADE_DOCKER_ADDRESS", raising=False)
    assert LocalRuntime(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), state_dir=tmp_path).host == "127.0.0.1"
    mesh = Mesh(TOPOLOGY, runtime="compose", state_dir=tmp_path)
    assert mesh.runtime.host == "127.0.0.1"
    mesh.runtime.proxy_ports["gateway->auth"] = 40001
    assert mesh.proxy_address("gateway->auth") == ("127.0.0.1", 40001)


def test_on_a_remote_engine_every_port_is_published_on_its_interfaces_and_envoy_gets_a_volume() -> None:
    services = build_override(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), "s3cret", PORTS,
                              engine_command=["/usr/local/bin/envoy", "-c", f"{ENVOY_DIR}/envoy.json"],
                              bind="0.0.0.0", engine_in_volume=True)["services"]
    for name, svc in services.items():
        assert all(p.startswith("0.0.0.0::") for p in svc["ports"]), (name, svc["ports"])
    # no host folder: an anonymous volume (removed by `down -v`), written through the Docker API
    assert services[ENVOY_SERVICE]["volumes"] == [{"type": "volume", "target": ENVOY_DIR}]
    assert len(services[TOXIPROXY_SERVICE]["ports"]) == 1 + len(PORTS)
    header = override_header(TOPOLOGY, "docker/compose.yaml", bind="0.0.0.0", engine_in_volume=True)
    assert "127.0.0.1" not in header and "0.0.0.0 (the remote engine's interfaces)" in header
    assert f"a volume at {ENVOY_DIR}, written through the Docker API" in header


def test_a_loopback_address_keeps_ports_on_that_address() -> None:
    services = build_override(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), "s3cret", PORTS,
                              engine_dir="/state/envoy", engine_command=["envoy"], bind="127.0.0.2")["services"]
    assert {p.split("::")[0] for svc in services.values() for p in svc["ports"]} == {"127.0.0.2"}


def _system_with_a_file_source(tmp_path: Path, container_path: str = "") -> Any:
    root = tmp_path / "system"
    (root / "conf").mkdir(parents=True)
    (root / "compose.yaml").write_text("services:\n  quote:\n    image: cascade/python:dev\n")
    (root / "topology.toml").write_text(f'''
[mesh]
name = "quote"
compose_file = "compose.yaml"

[services.quote]
container_port = 8000

[journeys.quote]
service = "quote"
path = "/quote"
edges = []
budget_ms = 1000

[config.prices]
kind = "file"
consumers = ["quote"]
path = "conf/settings.json"
''' + (f'container_path = "{container_path}"\n' if container_path else ""))
    return load_topology(root / "topology.toml")


def test_a_host_file_source_is_refused_on_a_remote_engine_naming_container_path(monkeypatch: pytest.MonkeyPatch,
                                                                                tmp_path: Path) -> None:
    topology = _system_with_a_file_source(tmp_path)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    Mesh(topology, runtime="compose", state_dir=tmp_path)  # a local engine sees the host folder: fine
    monkeypatch.setenv("DOCKER_HOST", "tcp://docker:2375")
    with pytest.raises(UsageError) as info:
        Mesh(topology, runtime="compose", state_dir=tmp_path)
    message = str(info.value)
    assert message.startswith("the Docker engine at DOCKER_HOST=tcp://docker:2375 is remote: config.prices")
    assert "set config.prices.container_path" in message and "\n" not in message
    assert remote_problems(_system_with_a_file_source(tmp_path / "b", "/etc/quote/settings.json")) == []


def test_a_dead_runs_project_is_reaped_on_the_engine_it_ran_on(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    asked: list[Any] = []

    class Client:
        def __init__(self) -> None:
            self.containers = SimpleNamespace(list=lambda **kw: ["c"])
            self.networks = SimpleNamespace(list=lambda **kw: [])

    monkeypatch.setattr(compose, "_docker_client", lambda host=None: asked.append(("client", host)) or Client())
    monkeypatch.setattr(compose, "_run_compose", lambda argv, env=None, **kw: asked.append(("compose", env.get("DOCKER_HOST"))) or "")
    monkeypatch.setenv("DOCKER_HOST", "unix:///somewhere/else.sock")  # the reaper's own: not where the run was
    files = [tmp_path / "compose.yaml", tmp_path / "override.yaml"]
    for f in files:
        f.write_text("services: {}\n")
    resource = {"kind": "compose", "project": "cascade-r1", "command": ["docker", "compose"],
                "files": [str(f) for f in files], "docker_host": "tcp://127.0.0.2:2375"}
    assert reap_compose_project(resource) == "removed compose project cascade-r1 on tcp://127.0.0.2:2375"
    assert asked == [("client", "tcp://127.0.0.2:2375"), ("compose", "tcp://127.0.0.2:2375")]
    asked.clear()
    reap_compose_project({**resource, "docker_host": ""})  # the local socket, whatever DOCKER_HOST says now
    assert asked == [("client", ""), ("compose", None)]
    asked.clear()
    reap_compose_project({k: v for k, v in resource.items() if k != "docker_host"})  # an older record: this env's
    assert asked == [("client", None), ("compose", "unix:///somewhere/else.sock")]


def test_docker_host_describes_itself() -> None:
    assert DockerHost("tcp://docker:2375", "docker", True).describe() == \
        "Docker engine tcp://docker:2375, published ports reached on docker"
