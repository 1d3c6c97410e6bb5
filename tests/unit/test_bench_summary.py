"""The pure parts of bench/run: table rows from a benchmark's JSON, the markdown table, the faults' active time."""

from __future__ import annotations

from bench.runner import rows_of, table
from bench.suite_timeline import fault_seconds
from harness.chaos import TimelineEvent


def ev(t_s: float, action: str) -> TimelineEvent:
    return TimelineEvent(t_s, action, "Latency(...)", "latency", ("a->b",))


def test_a_targeted_median_becomes_a_row_read_against_its_target():
    payload = {"results": {"reset": {"n": 5, "median_ms": 120.0, "target_ms": 100.0, "meets_target": False},
                           "untargeted": {"n": 5, "median_ms": 1.0, "target_ms": None, "meets_target": None}}}

    assert rows_of(payload) == [
        {"measurement": "reset (median of 5)", "measured": "120.00 ms", "target": "< 100 ms", "pass": False}]


def test_headline_rows_come_first_and_a_skip_carries_its_reason():
    head = {"measurement": "ratio", "measured": "0.3", "target": "", "pass": None}
    assert rows_of({"headline": [head], "results": {}}) == [head]
    assert rows_of({"skipped": "docker info failed: no engine"})[0]["measured"] == "docker info failed: no engine"


def test_exploration_rate_is_read_against_schedules_per_minute():
    payload = {"schedules": 50, "seconds": 60.0, "schedules_per_min": 50.0, "target_per_min": 100.0,
               "meets_target": False, "results": {}}

    (row,) = rows_of(payload)
    assert (row["measured"], row["target"], row["pass"]) == ("50/min", ">= 100/min", False)


def test_table_marks_misses_and_shows_a_benchmark_without_rows_by_its_status():
    md = table([
        {"name": "mesh", "status": "ok", "load_before": 1.0, "load_after": 2.25,
         "rows": [{"measurement": "bring-up", "measured": "3 s", "target": "< 2.5 s", "pass": False}]},
        {"name": "ctk", "status": "timed out", "load_before": 0.5, "load_after": 0.5, "rows": []},
    ])

    assert "| mesh | bring-up | 3 s | < 2.5 s | MISS | 1.0→2.2 |" in md
    assert "| ctk | timed out |  |  | MISS | 0.5→0.5 |" in md


def test_overlapping_faults_count_once_and_an_unreverted_one_runs_to_the_last_event():
    overlapping = [ev(1.0, "applied"), ev(1.5, "applied"), ev(2.0, "reverted"), ev(3.0, "reverted")]
    assert fault_seconds(overlapping) == 2.0
    assert fault_seconds([ev(0.0, "applied"), ev(0.5, "reverted"), ev(1.0, "applied"), ev(1.25, "apply_failed")]) == 0.75
    assert fault_seconds([]) == 0.0
