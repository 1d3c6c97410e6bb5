"""Exploration on two meshes at once (harness.explore.pool): the bundled mesh, local runtime, real components.

Each worker is a process with a mesh of its own. A failure found by one is shrunk and journaled
by it while the other stops; the journal replays on a fresh mesh. Nothing is left behind after a
normal end, a Ctrl-C or a SIGKILL of the runner.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.explore.pool import ExploreSpec, explore, worker_seed
from harness.explore.journal import Journal, replay
from harness.mesh import Mesh
from harness.topology import load_topology

from .conftest import alive

pytestmark = pytest.mark.integration

BUNDLED = Path(__file__).parents[2] / "services" / "topology.toml"
ROOT = Path(__file__).parents[2]
SEED = 3
KNOB = "fallbacks"


def mesh_processes(state_dir: Path) -> list[tuple[int, int]]:
    """(pid, start ticks) of every process of every mesh recorded under `state_dir`."""
    found = []
    for path in state_dir.glob("runs/*/state.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # being replaced this instant
        found += [(p["pid"], p["ticks"]) for p in data["processes"]]
    return found


def wait_gone(pids: list[tuple[int, int]], within_s: float = 30.0) -> list[tuple[int, int]]:
    deadline = time.monotonic() + within_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


def test_two_workers_find_a_brittle_failure_shrink_it_and_the_journal_replays(tmp_path):
    spec = ExploreSpec(str(BUNDLED), 25.0, SEED, mode=f"brittle:{KNOB}", database_dir=tmp_path / "db",
                       journal_dir=tmp_path / "journals", state_dir=tmp_path / "state",
                       process_faults=False, config_faults=False)
    seen: dict[int, int] = {}
    result = explore(spec, workers=2, worker_progress=lambda w, p: seen.__setitem__(w, p.examples))
    assert result.failed, f"no failure in {result.examples} examples on brittle:{KNOB}"
    # The worker that found the failure explored; the other may have been stopped before its first
    # example (its mesh still starting), which is the pool doing its job. That both explore is
    # shown on the resilient mesh below, where nothing stops them early.
    finder = [w for w in (0, 1) if result.journal.seed == worker_seed(SEED, w)]
    assert len(finder) == 1, f"journal seed {result.journal.seed} is no worker's"
    assert seen.get(finder[0], 0) >= 1, f"the finder, worker {finder[0]}, reported no example: {seen}"
    injected = [s.fault for s in result.journal.steps if s.action == "inject"]
    assert 1 <= len(injected) <= 2, [f.describe() for f in injected]
    assert Journal.load(result.journal_path) == result.journal
    assert list((tmp_path / "state").glob("worker-*/runs/*/state.json")) == []  # both meshes are down
    with Mesh(load_topology(BUNDLED), mode=f"brittle:{KNOB}", state_dir=tmp_path / "replay") as mesh:
        mesh.steady_state()
        again = replay(mesh, result.journal)
    assert again.same, "\n".join(again.differences)


def test_two_workers_on_the_resilient_mesh_find_nothing_and_both_explore(tmp_path):
    spec = ExploreSpec(str(BUNDLED), 20.0, SEED, database_dir=tmp_path / "db", journal_dir=tmp_path / "journals",
                       state_dir=tmp_path / "state")
    seen: dict[int, int] = {}
    result = explore(spec, workers=2, worker_progress=lambda w, p: seen.__setitem__(w, p.examples))
    assert not result.failed, result.journal.message if result.journal else ""
    assert set(seen) == {0, 1} and min(seen.values()) >= 5, seen
    assert result.examples == sum(seen.values())
    assert not (tmp_path / "journals").exists()
    assert list((tmp_path / "state").glob("worker-*/runs/*/state.json")) == []


def _start_cli(tmp_path: Path) -> tuple[subprocess.Popen[str], list[tuple[int, int]]]:
    """`cascade explore --workers 2` with its own state dir; returns once both meshes are up."""
    env = {**os.environ, "CASCADE_STATE_DIR": str(tmp_path / "state"), "CASCADE_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "explore", "--topology", str(BUNDLED),
                             "--budget", "120s", "--seed", "1", "--workers", "2"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        runs = list((tmp_path / "state").glob("runs/*/state.json"))
        pids = mesh_processes(tmp_path / "state")
        if len(runs) == 2 and len(pids) >= 2 * 9:  # toxiproxy, redis and seven services each
            time.sleep(2.0)  # exploring by now, faults active
            return proc, mesh_processes(tmp_path / "state")
        assert proc.poll() is None, proc.communicate()[0]
        time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"two meshes never came up: {proc.communicate()[0]}")


def test_ctrl_c_of_explore_with_two_workers_tears_both_meshes_down(tmp_path):
    proc, pids = _start_cli(tmp_path)
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=90)[0]
    assert proc.returncode == 130, out
    assert "interrupted" in out
    assert wait_gone(pids) == []
    assert list((tmp_path / "state").glob("runs/*/state.json")) == []


def test_kill_9_of_the_explore_runner_takes_its_workers_and_their_meshes_down(tmp_path):
    proc, pids = _start_cli(tmp_path)
    proc.kill()
    proc.communicate(timeout=30)
    assert wait_gone(pids) == []  # each worker gets SIGTERM from the kernel and tears its mesh down
    time.sleep(1.0)
    assert list((tmp_path / "state").glob("runs/*/state.json")) == []
