"""The nightly workflow's shards stay exact: every matrix shard runs K/N of the same N, and the report merges them all."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "nightly.yml").read_text())
SETUP = ROOT / ".github" / "actions" / "cascade-setup" / "action.yml"


def step_running(job: dict, needle: str) -> str:
    runs = [s["run"] for s in job["steps"] if needle in s.get("run", "")]
    assert len(runs) == 1, f"one step runs {needle!r}"
    return runs[0]


def test_the_matrix_runs_every_shard_of_the_same_count_each_with_its_own_reports():
    job = WORKFLOW["jobs"]["compose-suite"]
    shards = job["strategy"]["matrix"]["shard"]
    n = len(shards)
    assert shards == list(range(1, n + 1)) and job["env"]["SHARDS"] == n
    suite = step_running(job, "pytest scenarios")
    assert f"--cascade-shard ${{{{ matrix.shard }}}}/{n}" in suite
    assert "--junitxml reports/junit-shard-${{ matrix.shard }}.xml" in suite
    assert "--cascade-store-durations reports/durations-shard-${{ matrix.shard }}.json" in suite
    assert job["strategy"]["fail-fast"] is False


def test_the_report_job_merges_every_shard_after_they_ran():
    report = WORKFLOW["jobs"]["report"]
    assert report["needs"] == ["compose-suite"]
    merge = step_running(report, "cascade report")
    n = len(WORKFLOW["jobs"]["compose-suite"]["strategy"]["matrix"]["shard"])
    assert sorted(re.findall(r"--results shards/shard-(\d+)/allure-results", merge)) == [str(k) for k in range(1, n + 1)]
    assert sorted(re.findall(r"--junit shards/shard-(\d+)/reports/junit-shard-\1\.xml", merge)) == \
        [str(k) for k in range(1, n + 1)]


def test_every_job_that_runs_cascade_sets_up_through_the_one_composite_action():
    assert yaml.safe_load(SETUP.read_text())["runs"]["using"] == "composite"
    for name in ("compose-suite", "explore", "report"):
        uses = [s.get("uses") for s in WORKFLOW["jobs"][name]["steps"]]
        assert "./.github/actions/cascade-setup" in uses, name
