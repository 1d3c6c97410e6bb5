"""`--cascade-shard K/N` through pytest itself: the real suite's shards partition it exactly.

Collection only for the suite (no mesh starts); a small generated folder for recording durations
and for shards run under pytest-xdist. pytest-randomly stays on: every run shuffles its
collection with another seed, as every CI job does, and the shards must not change with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]


def pytest_ids(*args: str, cwd: Path = ROOT) -> tuple[list[str], str]:
    r = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                       cwd=cwd, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    return [line for line in r.stdout.splitlines() if "::" in line], r.stdout


@pytest.mark.parametrize("count", [2, 3])
def test_the_shards_of_the_resilience_suite_partition_it_exactly(count):
    whole, _ = pytest_ids("scenarios")
    assert len(whole) >= 40
    shards = []
    for k in range(1, count + 1):
        ids, out = pytest_ids("scenarios", f"--cascade-shard={k}/{count}")
        assert f"cascade: shard {k}/{count}: {len(ids)} of {len(whole)} tests, by count" in out
        shards.append(ids)
    assert sorted(i for s in shards for i in s) == sorted(whole)
    assert sum(map(len, shards)) == len(whole)  # disjoint
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def ran(junit: Path) -> list[str]:
    return sorted(f"{c.get('classname')}::{c.get('name')}" for c in ET.parse(junit).getroot().iter("testcase"))


def test_recorded_durations_balance_shards_run_under_xdist(tmp_path):
    (tmp_path / "test_work.py").write_text(textwrap.dedent("""\
        import time
        import pytest

        @pytest.mark.parametrize("ms", [300, 150, 150, 10, 10, 10, 10, 10])
        def test_work(ms):
            time.sleep(ms / 1000)
        """))
    durations = tmp_path / "durations.json"
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--cascade-store-durations",
                        f"--cascade-durations={durations}", "test_work.py"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    recorded = json.loads(durations.read_text())
    assert len(recorded) == 8 and recorded["test_work.py::test_work[300]"] >= 0.3

    outputs = []
    for k in (1, 2):
        junit = tmp_path / f"shard{k}.xml"
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "2",
                            f"--cascade-shard={k}/2", f"--cascade-durations={durations}", f"--junitxml={junit}",
                            f"--cascade-store-durations=shard{k}.json",
                            "test_work.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "balanced by durations.json (8 of 8 durations known)" in r.stdout
        outputs.append(ran(junit))
    assert len(set(outputs[0] + outputs[1])) == 8 and len(outputs[0] + outputs[1]) == 8
    # each shard stored only what it measured, in its own file (a CI matrix merges them afterwards)
    for k, ran_k in ((1, outputs[0]), (2, outputs[1])):
        stored = json.loads((tmp_path / f"shard{k}.json").read_text())
        assert sorted(stored) == sorted(t.replace("test_work::", "test_work.py::") for t in ran_k)
    # the 300 ms test alone is worth the two 150s: it never shares a shard with both of them
    slow = [s for s in outputs if "test_work::test_work[300]" in s][0]
    assert sum("[150]" in t for t in slow) <= 1


@pytest.mark.skipif(not (shutil.which("java") and shutil.which("npm")), reason="cascade report needs Java and npm")
def test_two_shards_reports_merge_into_one_allure_report_and_one_junit_file(tmp_path):
    (tmp_path / "test_mixed.py").write_text(textwrap.dedent("""\
        import pytest

        @pytest.mark.parametrize("n", range(6))
        def test_case(n):
            assert n != 4, "the one that fails"
        """))
    for k in (1, 2):
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--cascade-shard={k}/2",
                            f"--alluredir=shard{k}/allure-results", f"--junitxml=shard{k}/junit.xml", "test_mixed.py"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert r.returncode in (0, 1), r.stdout + r.stderr
    done = subprocess.run([sys.executable, "-m", "harness.cli", "report",
                           "--results", "shard1/allure-results", "--results", "shard2/allure-results",
                           "--junit", "shard1/junit.xml", "--junit", "shard2/junit.xml",
                           "--merged-junit", "junit.xml", "--out", "html"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 tests, 1 failed, 0 errors, 0 skipped" in done.stdout
    assert "6 test results from 2 folders" in done.stdout
    cases = [json.loads(f.read_text()) for f in (tmp_path / "html" / "data" / "test-cases").glob("*.json")]
    assert sorted(c["name"] for c in cases) == sorted(f"test_case[{n}]" for n in range(6))
    assert [c["status"] for c in cases if c["name"] == "test_case[4]"] == ["failed"]
