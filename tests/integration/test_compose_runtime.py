"""The compose runtime against a real Docker engine: the bundled mesh from docker/compose.yaml, every edge through Toxiproxy.

Needs a Docker engine (docker/engine.sh) and the images (docker/build-images.sh); skipped with
the engine's own error when `docker info` fails, or when the images are missing, unless
CASCADE_REQUIRE_DOCKER=1 (CI) turns those skips into failures. Runs once per compose version
installed (`docker compose` v2, `docker-compose` v1).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from harness.configpush import ConfigClient
from harness.errors import ConfigPushError, MeshNotReady, ProvisionError, UsageError
from harness.faults import Latency
from harness.modes import parse_mode
from harness.clients.probe import Response, http_request
from harness.runtime.runstate import RunRecord, reap_leftovers
from harness.runtime.compose import ComposeRuntime, reap_compose_project
from harness.runtime.base import engine_edges
from harness.runtime.compose_plan import ENVOY_SERVICE, compose_command
from harness.topology import Journey, load_topology

from .conftest import REQUIRE_DOCKER, skip_module_without_compose
from harness.clients.toxiproxy import ToxiproxyClient

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
COMPOSE_FILE = ROOT / "docker" / "compose.yaml"
TOPOLOGY = load_topology(ROOT / "services" / "topology.toml")
REQUIRE = REQUIRE_DOCKER


skip_module_without_compose()


def _flavours() -> list[object]:
    """Both compose versions: v2, the default, and v1, the compatibility run.

    A missing one is skipped on a developer's machine; under CASCADE_REQUIRE_DOCKER=1 (CI) it
    is a failure, so nothing is skipped for want of either.
    """
    out: list[object] = []
    for v in ("v2", "v1"):
        try:
            compose_command({**os.environ, "CASCADE_COMPOSE": v})
            out.append(v)
        except ProvisionError as exc:
            if REQUIRE:
                raise RuntimeError(f"CASCADE_REQUIRE_DOCKER=1 but compose {v} is missing: {exc}") from exc
            out.append(pytest.param(v, marks=pytest.mark.skip(reason=str(exc).splitlines()[0])))
    return out


def _one_flavour() -> str:
    """The compose version the runtime would pick by itself."""
    return "v2" if compose_command()[-1] == "compose" else "v1"


def _docker(*args: str) -> list[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=True)
    return [line for line in done.stdout.splitlines() if line.strip()]


def _leftovers(project: str) -> dict[str, list[str]]:
    """Everything of `project` the engine still has: containers (any state), networks, volumes."""
    label = f"label=com.docker.compose.project={project}"
    return {
        "containers": _docker("ps", "-a", "--filter", label, "--format", "{{.Names}}"),
        "networks": _docker("network", "ls", "--filter", label, "--format", "{{.Name}}"),
        "volumes": _docker("volume", "ls", "--filter", label, "--format", "{{.Name}}"),
    }


def _runtime(state_dir: Path, flavour: str, **kw: object) -> ComposeRuntime:
    return ComposeRuntime(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), compose_file=COMPOSE_FILE,
                          state_dir=state_dir, compose=flavour, **kw)  # type: ignore[arg-type]


def _journey(rt: ComposeRuntime, j: Journey, timeout_s: float = 5.0) -> Response:
    return http_request(*rt.address(j.service), j.method, j.path, headers=j.headers, json=j.json,
                        timeout_s=timeout_s)


def _answers_again(rt: ComposeRuntime, name: str, within_s: float = 10.0) -> Response:
    """The journey's first answer with an expected status within `within_s`, or the last one.

    A service is healthy before its callers trust it (a breaker that opened while it was away
    half-opens only after its reset timeout), so an answer is polled for, not expected at once.
    """
    j = TOPOLOGY.journey(name)
    deadline = time.monotonic() + within_s
    while True:
        r = _journey(rt, j)
        if r.status in j.expect_status or time.monotonic() > deadline:
            return r
        time.sleep(0.1)


@dataclass(frozen=True)
class Up:
    """A running mesh: the runtime and the Toxiproxy client its start() returned."""

    rt: ComposeRuntime
    toxiproxy: ToxiproxyClient


@pytest.fixture(scope="module", params=_flavours())
def up(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    """The bundled mesh up on compose (resilient), once per compose version; down afterwards."""
    rt = _runtime(tmp_path_factory.mktemp("state"), request.param)
    client = rt.start()
    try:
        yield Up(rt, client)
    finally:
        rt.stop()
        assert _leftovers(rt.project) == {"containers": [], "networks": [], "volumes": []}


@pytest.fixture
def mesh(up: Up) -> Iterator[Up]:
    """The shared mesh, put back to baseline after each test: no toxics, proxies on, services up."""
    yield up
    up.toxiproxy.reset()
    up.rt.heal_processes()


# -- bring-up ------------------------------------------------------------------------------------


def test_every_journey_of_the_bundled_topology_answers(mesh: Up) -> None:
    for name, j in TOPOLOGY.journeys.items():
        r = _answers_again(mesh.rt, name)
        assert r.status in j.expect_status, f"{name}: {r.status} {r.error} {r.body[:200]!r}"
        assert j.expect_body.encode() in r.body, f"{name}: {r.body[:200]!r}"


def test_every_edge_has_its_proxy_in_the_toxiproxy_container(mesh: Up) -> None:
    proxies = mesh.toxiproxy.proxies()
    assert sorted(proxies) == sorted(TOPOLOGY.edges)
    assert sorted(mesh.rt.engine_ports) == engine_edges(TOPOLOGY)
    for name, p in proxies.items():
        callee = TOPOLOGY.services[TOPOLOGY.edges[name].callee]
        if name in mesh.rt.engine_ports:  # an HTTP edge: through the engine, which forwards to the callee
            assert p.upstream == f"{ENVOY_SERVICE}:{mesh.rt.engine_ports[name]}"
        else:
            assert p.upstream == f"{callee.compose_service}:{callee.container_port}"
        assert p.listen.endswith(f":{mesh.rt.container_proxy_ports[name]}")
    # Published on loopback only, and really answering: the config service through auth->config.
    host, port = "127.0.0.1", mesh.rt.proxy_ports["auth->config"]
    assert http_request(host, port, "GET", "/health", timeout_s=2).status == 200


def test_services_run_as_non_root_without_extra_capabilities(mesh: Up) -> None:
    for name in [*TOPOLOGY.services, "toxiproxy", *([ENVOY_SERVICE] if mesh.rt.engine else [])]:
        attrs = mesh.rt.container(name).attrs
        user = attrs["Config"]["User"]
        assert user and not user.startswith(("0", "root")), f"{name} runs as {user!r}"
        assert not attrs["HostConfig"].get("CapAdd"), name
        assert attrs["HostConfig"].get("Init") is True, name
        for binding in (attrs["HostConfig"].get("PortBindings") or {}).values():
            assert all(b["HostIp"] == "127.0.0.1" for b in binding), f"{name} publishes beyond loopback"


def test_config_pushes_take_the_runtime_secret_not_the_compose_files_token(mesh: Up) -> None:
    config = ConfigClient(*mesh.rt.address("config"), mesh.rt.secret)
    before = config.current()
    with pytest.raises(ConfigPushError):
        ConfigClient(*mesh.rt.address("config"), "change-me").push(before.raw)  # compose.yaml's default
    assert config.push(before.raw, note="compose runtime test") > before.version
    config.rollback(before.version, expect_raw=before.raw)


def test_logs_come_from_the_container(mesh: Up) -> None:
    assert any("listening on 0.0.0.0:8000" in line for line in mesh.rt.logs("gateway", 200))
    assert mesh.rt.logs("toxiproxy", 5)


# -- network faults through the real proxies ---------------------------------------------------------


def test_latency_on_timeline_to_media_shows_in_the_home_journey(mesh: Up) -> None:
    home = TOPOLOGY.journey("home")
    before = min(_journey(mesh.rt, home).elapsed_ms for _ in range(3))
    for toxic in Latency("timeline->media", ms=250).toxics():
        mesh.toxiproxy.add_toxic("timeline->media", toxic)
    slow = _journey(mesh.rt, home)
    assert slow.status == 200, slow.body[:200]
    assert before < 250, f"home took {before:.0f} ms before any fault: too slow to show a 250 ms toxic"
    # Below media's 300 ms timeout the delay is paid in full; above it the fallback waits the
    # timeout out: either way at least 250 ms, and still inside the journey's budget.
    assert 250 <= slow.elapsed_ms < home.budget_ms, f"home took {slow.elapsed_ms:.0f} ms (before: {before:.0f} ms)"


def test_down_on_gateway_to_auth_makes_login_fail_fast(mesh: Up) -> None:
    login = TOPOLOGY.journey("login")
    mesh.toxiproxy.disable("gateway->auth")
    r = _journey(mesh.rt, login)
    assert r.status is not None and r.status >= 500, (r.status, r.error, r.body[:200])
    assert r.elapsed_ms < login.budget_ms
    mesh.toxiproxy.enable("gateway->auth")
    assert _answers_again(mesh.rt, "login").status == 200


# -- process faults through the Docker SDK -------------------------------------------------------------


def test_kill_timeline_then_restart_brings_it_back(mesh: Up) -> None:
    mesh.rt.kill("timeline")
    assert not mesh.rt.is_running("timeline")
    assert mesh.rt.container("timeline").attrs["State"]["ExitCode"] == 137  # SIGKILL, not a restart
    mesh.rt.restart("timeline")
    assert mesh.rt.is_running("timeline") and not mesh.rt.is_paused("timeline")
    assert _answers_again(mesh.rt, "home").status == 200


def test_pause_timeline_freezes_it_and_resume_thaws_it(mesh: Up) -> None:
    mesh.rt.pause("timeline")
    assert mesh.rt.is_paused("timeline") and mesh.rt.is_running("timeline")
    frozen = http_request(*mesh.rt.address("timeline"), "GET", "/health", timeout_s=0.5)
    assert frozen.status is None and frozen.timed_out
    mesh.rt.resume("timeline")
    assert not mesh.rt.is_paused("timeline")
    assert http_request(*mesh.rt.address("timeline"), "GET", "/health", timeout_s=2).status == 200


def test_restart_timeline_keeps_the_mesh_answering(mesh: Up) -> None:
    started = mesh.rt.container("timeline").attrs["State"]["StartedAt"]
    mesh.rt.restart("timeline")
    assert mesh.rt.container("timeline").attrs["State"]["StartedAt"] != started
    # Its published port may have changed; address() follows it.
    assert http_request(*mesh.rt.address("timeline"), "GET", "/health", timeout_s=2).status == 200
    assert _answers_again(mesh.rt, "home").status == 200


def test_heal_processes_resumes_and_restarts(mesh: Up) -> None:
    mesh.rt.kill("timeline")
    mesh.rt.pause("media")
    actions = mesh.rt.heal_processes()
    assert actions == ["resumed media", "restarted timeline (killed by a fault)"]
    assert all(mesh.rt.is_running(s) and not mesh.rt.is_paused(s) for s in TOPOLOGY.services)


# -- teardown, reaping, errors (each with its own project) -----------------------------------------------


@pytest.mark.parametrize("flavour", _flavours())
def test_stop_leaves_no_container_network_or_volume(tmp_path: Path, flavour: str) -> None:
    rt = _runtime(tmp_path / "state", flavour)
    rt.start()
    project = rt.project
    # the services, toxiproxy, and envoy where HTTP edges have the engine
    assert len(_leftovers(project)["containers"]) == len(TOPOLOGY.services) + 1 + (1 if engine_edges(TOPOLOGY) else 0)
    rt.stop()
    assert _leftovers(project) == {"containers": [], "networks": [], "volumes": []}
    assert not list((tmp_path / "state" / "runs").glob("*/state.json"))


def test_a_dead_runners_project_is_reaped(tmp_path: Path) -> None:
    state = tmp_path / "state"
    rt = _runtime(state, _one_flavour())
    rt.start()
    project = rt.project
    try:
        # Pretend the runner died: the state file names an owner that is no longer alive.
        assert rt.record is not None
        rec = RunRecord.load(rt.record.path)
        rec.owner_pid, rec.owner_ticks = 2**22 + 1, 1
        rec.save()
        cleaned = reap_leftovers(state, resource_reapers={"compose": reap_compose_project})
        assert any(f"removed compose project {project}" in line for line in cleaned), cleaned
        assert _leftovers(project) == {"containers": [], "networks": [], "volumes": []}
    finally:
        rt.stop()  # nothing left to remove: must not fail


def test_a_missing_image_is_named_before_anything_starts(tmp_path: Path) -> None:
    rt = _runtime(tmp_path / "state", _one_flavour(), toxiproxy_image="cascade/not-built:0")
    with pytest.raises(ProvisionError, match=r"cascade/not-built:0 is not on this machine.*build-images\.sh"):
        rt.start()
    assert rt.project and _leftovers(rt.project) == {"containers": [], "networks": [], "volumes": []}


def test_a_topology_service_missing_from_the_compose_file_is_named(tmp_path: Path) -> None:
    user = tmp_path / "compose.yaml"
    user.write_text(COMPOSE_FILE.read_text().replace("\n  links:\n", "\n  shortlinks:\n"))
    rt = ComposeRuntime(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), compose_file=user,
                        state_dir=tmp_path / "state")
    with pytest.raises(UsageError, match=r"declares no service 'links'.*shortlinks"):
        rt.start()


def test_a_service_that_cannot_start_is_named_with_its_log(tmp_path: Path) -> None:
    user = tmp_path / "compose.yaml"
    broken = 'command: ["python", "-c", "import sys; print(\'media: no disk today\'); sys.exit(3)"]'
    text = COMPOSE_FILE.read_text()
    assert 'command: ["python", "-m", "services.media"]' in text
    user.write_text(text.replace('command: ["python", "-m", "services.media"]', broken))
    rt = ComposeRuntime(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), compose_file=user,
                        state_dir=tmp_path / "state")
    with pytest.raises(MeshNotReady) as info:
        rt.start()
    message = str(info.value)
    assert message.startswith("media exited with code 3"), message
    assert "media: no disk today" in message and "docker logs" in message
    assert _leftovers(rt.project) == {"containers": [], "networks": [], "volumes": []}
