"""bench/run end to end on its cheapest benchmark: it runs, bounds itself, and writes the summary it promises."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
RUN = ROOT / "bench" / "run"


def bench_run(tmp_path: Path, *args: str, timeout_s: float = 180, **env_extra: str) -> subprocess.CompletedProcess[str]:
    """bench/run with its results in tmp_path (the real bench/results stay as the last real run left them)."""
    env = {**os.environ, "CASCADE_BENCH_RESULTS": str(tmp_path), **env_extra}
    return subprocess.run([str(RUN), *args], capture_output=True, text=True, env=env, timeout=timeout_s)


def test_quick_run_of_one_benchmark_writes_its_json_and_the_summary(tmp_path):
    done = bench_run(tmp_path, "--quick", "--only", "inject")

    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert [b["name"] for b in summary["benchmarks"]] == ["inject"]
    inject = summary["benchmarks"][0]
    assert inject["status"] == "ok"
    assert 0 < inject["seconds"] < 120
    assert json.loads((tmp_path / "inject.json").read_text())["cycles"] == 30  # the quick arguments were used
    rows = {r["measurement"]: r for r in inject["rows"]}
    assert rows["inject+revert Down (median of 30)"]["target"] == "< 20 ms"
    assert all(r["pass"] in (True, False) for r in rows.values())
    assert summary["machine"]["cores"] == os.cpu_count()
    md = (tmp_path / "summary.md").read_text()
    assert "| benchmark | measurement | measured | target | result |" in md
    assert "| inject | inject+revert Down (median of 30) |" in md


def ours(tmp_path: Path) -> list[int]:
    """Processes still running with this test's environment (a mesh a stopped benchmark left behind)."""
    mark = f"CASCADE_BENCH_RESULTS={tmp_path}".encode()
    pids = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if mark in environ.read_bytes().split(b"\0"):
                pids.append(int(environ.parent.name))
        except OSError:
            continue  # gone, or not ours to read
    return pids


def test_a_benchmark_over_its_budget_is_interrupted_and_leaves_nothing_running(tmp_path):
    # 37 s of budget minus the 30 s interrupt grace leaves a 7 s limit; the quick exploration
    # explores for 10 s after bringing its mesh up, so it cannot finish in time whatever the machine.
    done = bench_run(tmp_path, "--quick", "--only", "explore", "--budget-s", "37")

    assert done.returncode == 1, done.stdout + done.stderr
    entry = json.loads((tmp_path / "summary.json").read_text())["benchmarks"][0]
    assert entry["status"] == "timed out"
    assert 7 <= entry["seconds"] < 7 + 31
    assert entry["rows"] == []
    assert "| explore | timed out |" in (tmp_path / "summary.md").read_text()
    assert ours(tmp_path) == []  # the interrupt tore the mesh down before bench/run returned


def test_without_a_docker_engine_the_compose_benchmark_is_skipped_with_the_engines_error(tmp_path):
    done = bench_run(tmp_path, "--quick", "--only", "compose", timeout_s=60,
                     DOCKER_HOST=f"unix://{tmp_path}/no-engine.sock")

    assert done.returncode == 0, done.stdout + done.stderr
    (row,) = json.loads((tmp_path / "summary.json").read_text())["benchmarks"][0]["rows"]
    assert row["measurement"] == "skipped"
    assert row["measured"].startswith("docker info failed: ")
    assert "no-engine.sock" in row["measured"]


def test_an_unknown_benchmark_is_named_with_the_ones_that_exist(tmp_path):
    done = bench_run(tmp_path, "--only", "inject,nope", timeout_s=30)

    assert done.returncode == 2
    assert "unknown benchmark nope; benchmarks are: mesh, inject," in done.stderr
    assert not (tmp_path / "summary.json").exists()
