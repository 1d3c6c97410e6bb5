"""`cascade soak` run as a subprocess: a clean suite on the fixture mesh passes, a flake and a leak fail it."""

import os
import re
import subprocess
import sys
import textwrap

import pytest

from .conftest import MINI

pytestmark = pytest.mark.integration

CLEAN = textwrap.dedent("""
    import time
    from harness.faults import Down, Latency

    def test_ping_is_full(mesh):
        assert mesh.journey("ping").verdict == "full"
        time.sleep(0.5)  # the mesh stays up long enough for the soak to sample it

    def test_down_fails_fast_and_is_reverted(mesh, chaos):
        with chaos.inject(Down("front->back")):
            assert mesh.journey("ping").verdict == "failed_fast"
        chaos.apply(Latency("front->back", ms=50))  # left applied: the fixture reverts it
""")

DIRTY = textwrap.dedent("""
    import pathlib, subprocess
    COUNT = pathlib.Path(__file__).with_name("count")

    def test_stable():
        pass

    def test_flaky():
        n = int(COUNT.read_text()) if COUNT.exists() else 0
        COUNT.write_text(str(n + 1))
        assert n % 2 == 0

    def test_leaks_a_process():
        subprocess.Popen(["sleep", "30"], start_new_session=True)
""")


def soak(tmp_path, toxiproxy_server, suite: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_suite.py").write_text(suite)
    env = dict(os.environ, CASCADE_STATE_DIR=str(tmp_path / "state"), TOXIPROXY_SERVER=toxiproxy_server)
    argv = [sys.executable, "-m", "harness.cli", "soak", "--workdir", str(tmp_path / "soak"), "2",
            str(tmp_path / "suite"), "-p", "no:randomly", *extra]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_a_clean_suite_soaks_with_no_flake_no_leftover_and_a_trend(tmp_path, toxiproxy_server):
    done = soak(tmp_path, toxiproxy_server, CLEAN, f"--cascade-topology={MINI}")
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [line.split() for line in done.stdout.splitlines() if line[:3].strip() in ("1", "2")]
    assert [r[:2] for r in rows] == [["1", "0"], ["2", "0"]]  # run, exit code
    assert all(r[3] == "2" and r[4] == "0" and int(r[5]) >= 4 for r in rows)  # 2 tests, 0 failed, >= 4 processes
    assert "flakes: 0" in done.stdout and "leftovers: 0" in done.stdout
    assert "trend of open fds:" in done.stdout
    assert sorted(p.name for p in (tmp_path / "soak").glob("run-*.xml")) == ["run-1.xml", "run-2.xml"]


def test_a_flake_and_a_leftover_process_fail_the_soak_and_are_named(tmp_path, toxiproxy_server):
    done = soak(tmp_path, toxiproxy_server, DIRTY)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "flakes: 1\n  test_suite::test_flaky: pass fail" in done.stdout
    assert "leftovers: 2" in done.stdout
    assert "run 1: process sleep 30" in done.stdout and "outlived the run" in done.stdout
    pids = [int(m) for m in re.findall(r"\(pid (\d+)\) outlived", done.stdout)]
    assert len(pids) == 2 and not any(os.path.exists(f"/proc/{pid}/cmdline") and
                                      open(f"/proc/{pid}/cmdline").read().startswith("sleep") for pid in pids)  # killed


@pytest.mark.parametrize("n", ["0", "-1", "two"])
def test_a_bad_run_count_is_a_usage_error(n):
    done = subprocess.run([sys.executable, "-m", "harness.cli", "soak", n], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert "N must be" in done.stderr and "Traceback" not in done.stderr
