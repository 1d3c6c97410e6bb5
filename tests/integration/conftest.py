"""Shared pieces for integration tests: the fixture mesh's topology, a private state dir, a real etcd."""

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from harness.paths import state_dir as cascade_state_dir
from harness.runtime.ports import lease_ports
from harness.runtime.runstate import process_start_ticks
from harness.topology import load_topology

MINI = Path(__file__).parents[1] / "fixtures" / "mini" / "topology.toml"


@pytest.fixture(scope="session")
def toxiproxy_server():
    """The provisioned toxiproxy-server, passed to subprocesses whose HOME (and cache) differ."""
    from harness.runtime.provision import find_toxiproxy

    return str(find_toxiproxy().server)


@pytest.fixture
def mini():
    return load_topology(MINI)


@pytest.fixture
def state_dir(tmp_path):
    return tmp_path / "state"


def alive(pid_ticks):
    """Which of the (pid, start ticks) pairs are still the same running processes."""
    return [(pid, t) for pid, t in pid_ticks if process_start_ticks(pid) == t]


COMPOSE_IMAGES = ("cascade/python:dev", "cascade/redis:dev", "cascade/toxiproxy:2.12.0", "cascade/envoy:1.40.0",
                  "cascade/etcd:3.4")
REQUIRE_DOCKER = os.environ.get("CASCADE_REQUIRE_DOCKER") == "1"


def compose_unavailable() -> str:
    """Why compose tests cannot run here ('' if they can), in the engine's own words."""
    if not shutil.which("docker"):
        return "no docker client on PATH; run docker/engine.sh"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    if info.returncode != 0:
        return "docker info failed: " + " ".join((info.stderr or info.stdout).split())[:400]
    missing = [i for i in COMPOSE_IMAGES
               if subprocess.run(["docker", "image", "inspect", i], capture_output=True).returncode != 0]
    return f"images {', '.join(missing)} are missing; run docker/build-images.sh" if missing else ""


def skip_module_without_compose() -> None:
    """Skip the calling test module with the reason when compose cannot run; under CASCADE_REQUIRE_DOCKER=1, fail."""
    why = compose_unavailable()
    if why:
        if REQUIRE_DOCKER:
            raise RuntimeError(f"CASCADE_REQUIRE_DOCKER=1 but {why}")
        pytest.skip(why, allow_module_level=True)


ETCD = os.environ.get("CASCADE_ETCD") or shutil.which("etcd") or "/usr/bin/etcd"
ETCD_START_S = 20.0
ETCD_STOP_S = 15.0


@pytest.fixture
def etcd_server(tmp_path):
    """A real etcd (Debian's etcd-server) alone on two leased 127.0.0.1 ports, its data in tmp_path; yields its client URL.

    Ports come from the same leases meshes take (harness/runtime/ports.py), held until etcd has
    exited. Stopped with SIGTERM (SIGKILL after ETCD_STOP_S), so nothing is left running.
    """
    from harness.clients.etcd import EtcdClient

    if not (os.path.isfile(ETCD) and os.access(ETCD, os.X_OK)):
        pytest.fail(f"no etcd at {ETCD}: run scripts/bootstrap as root (it installs Debian's etcd-server), "
                    "or set CASCADE_ETCD to an etcd 3.4+ binary")
    lease = lease_ports(2, cascade_state_dir() / "ports")
    client_url, peer_url = (f"http://127.0.0.1:{port}" for port in lease.ports)
    log_path = tmp_path / "etcd.log"
    # etcd also reads ETCD_* variables; none from the caller's environment may reach it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETCD_")}
    argv = [ETCD, "--name", "default", "--data-dir", str(tmp_path / "etcd-data"), "--logger", "zap",
            "--listen-client-urls", client_url, "--advertise-client-urls", client_url,
            "--listen-peer-urls", peer_url, "--initial-advertise-peer-urls", peer_url,
            "--initial-cluster", f"default={peer_url}", "--initial-cluster-state", "new"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    try:
        client = EtcdClient(client_url, timeout_s=1.0)
        deadline = time.monotonic() + ETCD_START_S
        why = "not asked yet"
        while True:
            if proc.poll() is not None:
                pytest.fail(f"etcd exited {proc.returncode} before it was healthy; its log:\n{_tail(log_path)}")
            why = client.health()
            if not why:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"etcd on {client_url} not healthy after {ETCD_START_S:g} s ({why}); "
                            f"its log:\n{_tail(log_path)}")
            time.sleep(0.05)
        yield client_url
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGCONT)  # a test may have paused it; a stopped etcd would not see SIGTERM
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(ETCD_STOP_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        lease.release()


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"(could not read {path}: {exc})"
