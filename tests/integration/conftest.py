"""Shared pieces for integration tests: the fixture mesh's topology and a private state dir."""

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
