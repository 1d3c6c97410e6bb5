"""Shared pieces for integration tests: the fixture mesh's topology and a private state dir."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

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


COMPOSE_IMAGES = ("cascade/python:dev", "cascade/redis:dev", "cascade/toxiproxy:2.12.0", "cascade/envoy:1.40.0")
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
