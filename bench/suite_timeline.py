"""A pytest plugin for the suite benchmark: per test, its phases' durations and how long any fault was active.

    .venv/bin/python -m pytest scenarios -p bench.suite_timeline   # with CASCADE_BENCH_SUITE_OUT=path.json

It reads each test's `chaos` timeline after teardown (the fixture has reverted everything by
then) and writes one JSON document at the end of the session. The faults' active time is the
union of the intervals in which at least one fault was applied, so overlapping faults count once.
It also times every `Mesh.reset()` that follows a fault (`mesh.dirty`): such a reset waits for the
services to recover (breakers to close, caches to refill), which is the mesh's time, not the harness's.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Iterable, Iterator

import pytest

from harness.chaos import TimelineEvent
from harness.mesh import Mesh
from harness.plugin import CHAOS

__all__ = ["fault_seconds"]

OUT_ENV = "CASCADE_BENCH_SUITE_OUT"
_tests: dict[str, dict[str, Any]] = {}
_t0 = time.perf_counter()
_settle_s = [0.0]  # seconds of resets after a fault, all tests so far
_reset = Mesh.reset


def fault_seconds(timeline: Iterable[TimelineEvent]) -> float:
    """Seconds during which at least one fault was active (an unreverted fault counts to its last event)."""
    active, since, total, last = 0, 0.0, 0.0, 0.0
    for ev in sorted(timeline, key=lambda e: e.t_s):
        last = ev.t_s
        if ev.action == "applied":
            if active == 0:
                since = ev.t_s
            active += 1
        elif ev.action in ("reverted", "revert_failed") and active > 0:
            active -= 1
            if active == 0:
                total += ev.t_s - since
    return total + (last - since if active else 0.0)


def _timed_reset(self: Mesh) -> list[str]:
    """Mesh.reset, timed when it follows a fault (measurement only: the original does all the work)."""
    dirty, t0 = self.dirty, time.perf_counter()
    try:
        return _reset(self)
    finally:
        if dirty:
            _settle_s[0] += time.perf_counter() - t0


def pytest_configure(config: pytest.Config) -> None:
    Mesh.reset = _timed_reset  # type: ignore[method-assign] - the only way to see the fixture's reset


def pytest_unconfigure(config: pytest.Config) -> None:
    Mesh.reset = _reset  # type: ignore[method-assign]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    entry = _tests.setdefault(report.nodeid, {"outcome": "passed"})
    entry[f"{report.when}_s"] = round(report.duration, 4)
    if report.failed or (report.skipped and report.when != "teardown"):
        entry["outcome"] = report.outcome


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    """The fixture's reset before the test: what part of the setup phase was the mesh recovering."""
    before = _settle_s[0]
    yield
    _tests.setdefault(item.nodeid, {"outcome": "passed"})["reset_after_fault_s"] = round(_settle_s[0] - before, 4)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    yield
    chaos = item.stash.get(CHAOS, None)
    entry = _tests.setdefault(item.nodeid, {"outcome": "passed"})
    entry["fault_s"] = round(fault_seconds(chaos.timeline), 4) if chaos is not None else 0.0
    entry["faults"] = sum(1 for ev in chaos.timeline if ev.action == "applied") if chaos is not None else 0


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = os.environ.get(OUT_ENV)
    if out:
        Path(out).write_text(json.dumps({"session_s": round(time.perf_counter() - _t0, 3), "tests": _tests}, indent=1))
