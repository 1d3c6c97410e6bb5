"""The compose runtime on a remote Docker engine: a second dockerd that this module starts in a network namespace of its own.

    this machine (the first engine's namespace)            network namespace cascade-remote-<id> (made here)
    harness ── DOCKER_HOST=tcp://<engine ip>:2375 ──veth──> dockerd #2: its own data root, exec root,
            ── journeys, Toxiproxy, Envoy admin ───────────>  containerd, firewall and ports
               on <engine ip>:<published port>                docker-proxy ─> the compose project's bridge

The harness reaches that engine only through DOCKER_HOST (the Docker API and compose), and its
published ports only at the engine's address, as on GitLab CI with a docker:dind service: a
mesh is judged, faulted on an edge (a latency toxic, an HTTP error through Envoy, whose routes
go through the Docker API there), killed and paused through the API, its logs read, and then
nothing of it is left on either engine. A runner killed mid-run leaves its project behind, and
`cascade cleanup` removes it from the engine the run used.

Why a namespace and not 127.0.0.2 on lo: this kernel passes bridged frames through iptables
(br_netfilter, bridge-nf-call-iptables=1) and the first engine set FORWARD's policy to DROP, so
in the first engine's namespace a second engine started with --iptables=false has its
containers' traffic to each other dropped (checked: Toxiproxy never reaches a callee), unless the
host's firewall is changed. In a namespace of its own the second engine has a firewall of its
own (empty, policy ACCEPT), and nothing of the host changes. Traffic goes only to that namespace.

Needs root, dockerd, `ip` and `nsenter`, the first engine with the images (docker/engine.sh,
docker/build-images.sh); skipped with the reason otherwise, unless CASCADE_REQUIRE_DOCKER=1.
The fixture stops the second dockerd, unmounts what it mounted, deletes the namespace and the
data root even when a test fails, and fails loudly if any process of it is left.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from harness import Chaos
from harness.errors import UsageError
from harness.faults import HttpError, Kill, Latency, Pause
from harness.mesh import Mesh
from harness.topology import Topology, load_topology

from .conftest import REQUIRE_DOCKER, compose_unavailable

pytestmark = pytest.mark.integration

DOCKERD = shutil.which("dockerd") or "/usr/bin/dockerd"
IMAGES = ("cascade/python:dev", "cascade/toxiproxy:2.12.0", "cascade/envoy:1.40.0")
ROOT = Path(__file__).parents[2]
APP = ROOT / "tests" / "fixtures" / "mini" / "app.py"
ENGINE_PORT = 2375  # inside the namespace: nothing else listens there
START_S = 60.0
STOP_S = 30.0
TEST_NETS = ipaddress.ip_network("198.18.0.0/15")  # RFC 2544's benchmarking range: no real host is there
COMPOSE_LABEL = "com.docker.compose.project"


def _unavailable() -> str:
    """Why a second engine cannot run here ('' if it can)."""
    if os.geteuid() != 0:
        return "a second Docker engine needs root (dockerd, ip netns)"
    if not os.access(DOCKERD, os.X_OK):
        return f"no dockerd at {DOCKERD} (apt-get install docker.io, or docker/engine.sh)"
    for tool in ("ip", "nsenter"):
        if not shutil.which(tool):
            return f"no {tool} on PATH (apt-get install iproute2 util-linux)"
    return compose_unavailable()


_WHY = _unavailable()
if _WHY:
    if REQUIRE_DOCKER:
        raise RuntimeError(f"CASCADE_REQUIRE_DOCKER=1 but {_WHY}")
    pytest.skip(_WHY, allow_module_level=True)


# -- the second engine -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Engine:
    """The second engine: its DOCKER_HOST, its address, a second address in its namespace, its private socket."""

    url: str
    address: str
    other_address: str
    socket: str
    root: Path

    def docker(self, *args: str, check: bool = True) -> list[str]:
        """`docker` against this engine (over its private unix socket), its output lines."""
        done = subprocess.run(["docker", "-H", self.socket, *args], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} on the second engine failed: {done.stderr.strip()}")
        return [line for line in done.stdout.splitlines() if line.strip()]


def _run(*argv: str) -> None:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"`{' '.join(argv)}` failed: {done.stderr.strip() or done.stdout.strip()}")


def _free_subnet() -> ipaddress.IPv4Network:
    """A /29 of 198.18.0.0/15 that no address or route of this machine overlaps."""
    out = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, check=True).stdout.split()
    used = [ipaddress.ip_interface(w).network for w in out if "/" in w and w[0].isdigit()]
    routes = subprocess.run(["ip", "-4", "route"], capture_output=True, text=True, check=True).stdout.splitlines()
    used += [ipaddress.ip_network(r.split()[0], strict=False) for r in routes if r and r[0].isdigit()]
    for _ in range(100):
        net = ipaddress.ip_network(f"{TEST_NETS[random.randrange(0, TEST_NETS.num_addresses, 8)]}/29")
        if not any(net.overlaps(u) for u in used):
            return net
    raise AssertionError(f"no free /29 in {TEST_NETS} (used: {used})")


def _answers(socket: str) -> bool:
    """Whether the engine on `socket` answers its API (an engine still starting may hold a request: not yet)."""
    try:
        return subprocess.run(["docker", "-H", socket, "version"], capture_output=True, timeout=5).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _netns_inode(ns: str) -> int | None:
    try:
        return os.stat(f"/run/netns/{ns}").st_ino
    except OSError:
        return None


def _processes_of(root: Path, ns_inode: int | None) -> list[int]:
    """Pids of processes in the namespace, or whose command line names the engine's folder (containerd's shims)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
            in_ns = ns_inode is not None and os.stat(f"/proc/{entry}/ns/net").st_ino == ns_inode
        except OSError:
            continue
        if in_ns or str(root).encode() in cmdline:
            found.append(int(entry))
    return found


def _mounts_under(root: Path) -> list[str]:
    """Mount points under `root` (overlays, network namespace files), deepest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == str(root) or point.startswith(f"{root}/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    """A second dockerd in a new network namespace with the images the test needs; everything of it gone afterwards."""
    token = secrets.token_hex(3)
    root = Path(tempfile.mkdtemp(prefix=f"cxr-{token}-"))  # short: containerd's sockets live under it
    ns, host_if, ns_if = f"cascade-remote-{token}", f"cxr{token}h", f"cxr{token}n"
    net = _free_subnet()
    host_ip, engine_ip, other_ip = (str(net[i]) for i in (1, 2, 3))
    socket = f"unix://{root}/exec/docker.sock"
    proc: subprocess.Popen[bytes] | None = None
    try:
        _run("ip", "netns", "add", ns)
        _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
        _run("ip", "link", "set", ns_if, "netns", ns)
        _run("ip", "addr", "add", f"{host_ip}/{net.prefixlen}", "dev", host_if)
        _run("ip", "link", "set", host_if, "up")
        for ip in (engine_ip, other_ip):
            _run("ip", "-n", ns, "addr", "add", f"{ip}/{net.prefixlen}", "dev", ns_if)
        _run("ip", "-n", ns, "link", "set", ns_if, "up")
        _run("ip", "-n", ns, "link", "set", "lo", "up")
        (root / "daemon.json").write_text("{}")  # not the first engine's /etc/docker/daemon.json
        argv = ["nsenter", f"--net=/run/netns/{ns}", "--", DOCKERD,
                "--data-root", str(root / "data"), "--exec-root", str(root / "exec"),
                "--pidfile", str(root / "dockerd.pid"), "--config-file", str(root / "daemon.json"),
                "-H", socket, "-H", f"tcp://{engine_ip}:{ENGINE_PORT}",
                "--bridge=none", "--iptables=false", "--ip-forward=false", "--ip-masq=false"]
        with open(root / "dockerd.log", "wb") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        second = Engine(f"tcp://{engine_ip}:{ENGINE_PORT}", engine_ip, other_ip, socket, root)
        deadline = time.monotonic() + START_S
        while not _answers(socket):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the second dockerd did not answer within {START_S:g} s (exit {proc.poll()}); its log:\n"
                            + (root / "dockerd.log").read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        first_env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
        save = subprocess.Popen(["docker", "save", *IMAGES], stdout=subprocess.PIPE, env=first_env)
        loaded = subprocess.run(["docker", "-H", socket, "load", "-q"], stdin=save.stdout, capture_output=True,
                                text=True, timeout=300)
        assert save.stdout is not None
        save.stdout.close()
        assert save.wait(60) == 0 and loaded.returncode == 0, f"loading {IMAGES} failed: {loaded.stderr}"
        yield second
    finally:
        problems = _stop_engine(proc, root, ns)
        if problems:
            pytest.fail("the second engine left: " + "; ".join(problems))


def _stop_engine(proc: subprocess.Popen[bytes] | None, root: Path, ns: str) -> list[str]:
    """Stop the second engine and remove everything of it; what could not be removed, [] if nothing."""
    problems = []
    socket = f"unix://{root}/exec/docker.sock"
    if proc is not None and proc.poll() is None:
        # Whatever a failed test left: gone before dockerd stops, so its shutdown has nothing to wait for.
        ids = subprocess.run(["docker", "-H", socket, "ps", "-aq"], capture_output=True, text=True, timeout=60)
        if ids.stdout.split():
            subprocess.run(["docker", "-H", socket, "rm", "-f", "-v", *ids.stdout.split()], capture_output=True,
                           timeout=120)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(STOP_S)
        except subprocess.TimeoutExpired:
            problems.append(f"dockerd (pid {proc.pid}) ignored SIGTERM for {STOP_S:g} s; killed")
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
    inode = _netns_inode(ns)
    for _ in range(50):  # containerd and its shims exit a moment after dockerd
        left = _processes_of(root, inode)
        if not left:
            break
        time.sleep(0.1)
    else:
        problems.append(f"processes {left} outlived dockerd; killed")
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    for point in _mounts_under(root):
        done = subprocess.run(["umount", "-l", point], capture_output=True, text=True)
        if done.returncode != 0:
            problems.append(f"could not unmount {point}: {done.stderr.strip()}")
    if inode is not None:
        done = subprocess.run(["ip", "netns", "del", ns], capture_output=True, text=True)  # takes the veth pair
        if done.returncode != 0:
            problems.append(f"could not delete network namespace {ns}: {done.stderr.strip()}")
    shutil.rmtree(root, ignore_errors=True)
    if root.exists():
        problems.append(f"could not remove {root}")
    return problems


# -- the mesh on it --------------------------------------------------------------------------------


def _system(folder: Path, *, config: str = "") -> Topology:
    """The two-service fixture mesh (front -> back) as a compose system: its code inline, no host folder mounted."""
    source = APP.read_text()
    assert "$" not in source  # compose would read it as a variable
    app = json.dumps(source)  # a JSON string is a YAML double-quoted scalar
    folder.mkdir(parents=True)
    (folder / "compose.yaml").write_text(f"""
services:
  back:
    image: cascade/python:dev
    init: true
    command: ["python", "-c", {app}, "back"]
    environment: {{HOST: 0.0.0.0, PORT: "8000"}}
  front:
    image: cascade/python:dev
    init: true
    command: ["python", "-c", {app}, "front"]
    environment: {{HOST: 0.0.0.0, PORT: "8000", BACK_URL: "http://back:8000"}}
""")
    (folder / "topology.toml").write_text(f"""
[mesh]
name = "remote"
compose_file = "compose.yaml"

[services.back]
container_port = 8000

[services.front]
container_port = 8000

[edges."front->back"]
env = "BACK_URL"

[journeys.ping]
service = "front"
path = "/ping"
edges = ["front->back"]
budget_ms = 1000
expect_body = "pong"
{config}""")
    return load_topology(folder / "topology.toml")


@pytest.fixture
def on_engine(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """DOCKER_HOST at the second engine for this test; CASCADE_DOCKER_ADDRESS unset (its default: the engine's host)."""
    monkeypatch.setenv("DOCKER_HOST", engine.url)
    monkeypatch.delenv("CASCADE_DOCKER_ADDRESS", raising=False)
    monkeypatch.delenv("CASCADE_HTTP_ENGINE", raising=False)  # the engine on: its routes go through the API
    return engine


def _left_on(docker: list[str], project: str) -> dict[str, list[str]]:
    """What an engine (`docker` argv prefix) still has of `project`."""
    def ls(*args: str) -> list[str]:
        done = subprocess.run([*docker, *args, "--filter", f"label={COMPOSE_LABEL}={project}", "--format",
                               "{{.Name}}" if args[0] != "ps" else "{{.Names}}"], capture_output=True, text=True,
                              timeout=60, env={k: v for k, v in os.environ.items() if k != "DOCKER_HOST"})
        assert done.returncode == 0, done.stderr
        return done.stdout.split()

    return {"containers": ls("ps", "-a"), "networks": ls("network", "ls"), "volumes": ls("volume", "ls")}


NOTHING = {"containers": [], "networks": [], "volumes": []}


def _full_again(mesh: Mesh, within_s: float = 15.0) -> str:
    """The ping journey's verdict once it is full again, or its last verdict after `within_s`."""
    deadline = time.monotonic() + within_s
    while True:
        verdict = mesh.journey("ping").verdict
        if verdict == "full" or time.monotonic() > deadline:
            return verdict
        time.sleep(0.1)


def test_a_mesh_on_a_remote_engine_is_judged_faulted_and_leaves_nothing_on_either_engine(
        on_engine: Engine, tmp_path: Path) -> None:
    topology = _system(tmp_path / "system")
    mesh = Mesh(topology, runtime="compose", state_dir=tmp_path / "state")
    rt = mesh.runtime
    try:
        mesh.start()
        chaos = Chaos(mesh, observe=False)
        try:
            # Reached at the engine's address, published on its interfaces (not on loopback anywhere).
            assert rt.host == on_engine.address and rt.address("front")[0] == on_engine.address
            assert rt.toxiproxy_url.startswith(f"http://{on_engine.address}:")
            bindings = rt.container("front").attrs["HostConfig"]["PortBindings"]["8000/tcp"]
            assert {b["HostIp"] for b in bindings} == {"0.0.0.0"}, bindings
            assert mesh.journey("ping").verdict == "full"

            # A network fault on the edge: 1.2 s of latency, over the journey's 1 s budget (and under
            # front's own 2 s timeout, so the answer is late, not an error).
            with chaos.inject(Latency("front->back", ms=1200)):
                slow = mesh.journey("ping")
            assert slow.verdict == "hung" and slow.elapsed_ms >= 1200, slow
            assert _full_again(mesh) == "full"

            # An HTTP fault: Envoy's routes, moved into place in its container through the Docker API.
            assert rt.engine is not None
            with chaos.inject(HttpError("front->back", status=500)):
                refused = mesh.journey("ping")
            assert refused.verdict == "failed_fast" and refused.status == 503, refused
            assert _full_again(mesh) == "full"

            # Process faults through the API, each reverted when its block ends.
            with chaos.inject(Kill("back")):
                assert not rt.is_running("back")
                assert rt.container("back").attrs["State"]["ExitCode"] == 137
                # refused or, while Envoy still tries the dead container's address, late: not full
                assert mesh.journey("ping").verdict in ("failed_fast", "hung")
            assert rt.is_running("back") and _full_again(mesh) == "full"
            with chaos.inject(Pause("back")):
                assert rt.is_paused("back")
                assert mesh.journey("ping").verdict == "hung"  # front waits on a frozen back
            assert not rt.is_paused("back") and _full_again(mesh) == "full"

            # Logs through the API.
            assert any("front listening on 0.0.0.0:8000" in line for line in rt.logs("front", 200))
            assert any("GET /ping" in line for line in rt.logs("back", 200))
        finally:
            chaos.revert_all()
            chaos.close()
    finally:
        mesh.stop()
    project = rt.project
    assert project.startswith("cascade-")
    assert _left_on(["docker", "-H", on_engine.socket], project) == NOTHING
    assert _left_on(["docker"], project) == NOTHING  # the first engine never saw it
    # The second engine is this module's own: anything on it is a leftover (Envoy's anonymous volume too).
    assert not on_engine.docker("ps", "-aq") and not on_engine.docker("volume", "ls", "-q")
    assert set(on_engine.docker("network", "ls", "--format", "{{.Name}}")) == {"host", "none"}


RUNNER = """
import sys, time
from pathlib import Path
from harness.mesh import Mesh
from harness.topology import load_topology
mesh = Mesh(load_topology(sys.argv[1]), runtime="compose", state_dir=Path(sys.argv[2])).start()
print(mesh.runtime.project, mesh.runtime.host, flush=True)
time.sleep(600)  # killed long before
"""


def _env(**extra: str) -> dict[str, str]:
    """This process's environment (DOCKER_HOST: the second engine) for a child that imports this checkout's harness."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **extra}


def test_a_dead_runners_project_on_the_remote_engine_is_removed_by_cascade_cleanup(
        on_engine: Engine, tmp_path: Path) -> None:
    topology = _system(tmp_path / "system")
    state = tmp_path / "state"
    # This runner reaches the ports at the namespace's other address: CASCADE_DOCKER_ADDRESS is what counts.
    env = _env(CASCADE_DOCKER_ADDRESS=on_engine.other_address, CASCADE_STATE_DIR=str(state))
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(topology.root / "topology.toml"), str(state)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                              start_new_session=True)
    try:
        assert runner.stdout is not None
        line = runner.stdout.readline().split()
        assert len(line) == 2, f"the runner did not start its mesh: {runner.stderr.read() if runner.poll() is not None else ''}"
        project, host = line
        assert host == on_engine.other_address
        os.killpg(runner.pid, signal.SIGKILL)  # the runner dies without tearing down
        runner.wait(10)
        assert len(_left_on(["docker", "-H", on_engine.socket], project)["containers"]) == 4  # 2 + toxiproxy + envoy
        env = _env(CASCADE_STATE_DIR=str(state))  # DOCKER_HOST: the second engine (on_engine)
        done = subprocess.run([sys.executable, "-m", "harness.cli", "cleanup"], capture_output=True, text=True,
                              env=env, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"removed compose project {project} on {on_engine.url}" in done.stdout, done.stdout
        assert _left_on(["docker", "-H", on_engine.socket], project) == NOTHING
        assert not list(state.glob("runs/*/state.json"))
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
            runner.wait(10)


def test_a_host_file_config_source_is_refused_before_anything_starts(on_engine: Engine, tmp_path: Path) -> None:
    topology = _system(tmp_path / "system", config="""
[config.ping]
kind = "file"
consumers = ["back"]
path = "settings.json"
""")
    (topology.root / "settings.json").write_text("{}")
    with pytest.raises(UsageError) as info:
        Mesh(topology, runtime="compose", state_dir=tmp_path / "state")
    assert str(info.value).startswith(f"the Docker engine at DOCKER_HOST={on_engine.url} is remote: config.ping")
    assert "set config.ping.container_path" in str(info.value)
    assert not on_engine.docker("ps", "-aq") and not list((tmp_path / "state").glob("runs/*"))
