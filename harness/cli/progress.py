"""pytest plugin behind `cascade run`: one line per finished test with a counter, then a summary table.

    pytest -p harness.cli.progress -q [--cascade-summary PATH] ...

    [ 3/12] passed      1.24s  scenarios/test_media.py::test_home_degrades_when_media_is_slow
    ...
    test                                                    outcome   time
    scenarios/test_media.py::test_home_degrades_...         passed    1.24s
    12 tests: 11 passed, 1 failed; 41.0 s

Outcomes are pytest's own categories (passed, failed, error, skipped, xfailed, xpassed), asked of
`pytest_report_teststatus` so they agree with pytest's summary line; a test's outcome is its worst
phase. With -q this plugin's line replaces pytest's progress letter. `--cascade-summary PATH` also writes the table as JSON.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generator

import pytest

__all__ = ["Progress", "Row", "pytest_addoption", "pytest_configure"]

# Worst first: a test's outcome is its worst phase (a passed call with a failing teardown is an error).
_RANK = ("failed", "error", "xpassed", "passed", "xfailed", "skipped")
_MARKUP = {"failed": "red", "error": "red", "xpassed": "yellow", "passed": "green", "xfailed": "yellow",
           "skipped": "yellow"}


@dataclass
class Row:
    """One test as the summary shows it."""

    nodeid: str
    outcome: str = ""
    seconds: float = 0.0
    phases: list[str] = field(default_factory=list)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.getgroup("cascade").addoption("--cascade-summary", default="", metavar="PATH",
                                         help="also write the progress summary as JSON to PATH")


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Progress(config), "cascade-progress")


class Progress:
    """Collects each test's phases; prints its line when its last phase (teardown) is reported."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.rows: dict[str, Row] = {}
        self.done = 0
        self.total = 0
        self.t0 = time.monotonic()

    @pytest.hookimpl(wrapper=True)
    def pytest_report_teststatus(self, report: pytest.TestReport, config: pytest.Config) -> Generator[None, Any, Any]:
        category, letter, word = yield
        if config.get_verbosity() < 0:
            return category, "", word  # our line stands for the letter; the word stays for pytest's summary
        return category, letter, word

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """-q hides pytest's header; keep Cascade's line of it (runtime, mode, Toxiproxy, seed): it reproduces the run."""
        if self.config.get_verbosity() >= 0:
            return
        for lines in self.config.hook.pytest_report_header(config=self.config, start_path=self.config.rootpath):
            for line in [lines] if isinstance(lines, str) else lines:
                if line.startswith("cascade:"):
                    self._line(line, "")

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.total = len(session.items)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        row = self.rows.setdefault(report.nodeid, Row(report.nodeid))
        row.seconds += report.duration
        category = self.config.hook.pytest_report_teststatus(report=report, config=self.config)[0]
        if category:
            row.phases.append(category)
        if report.when != "teardown":
            return
        row.outcome = min(row.phases or ["passed"], key=lambda c: _RANK.index(c) if c in _RANK else len(_RANK))
        self.done += 1
        total = str(self.total or "?")
        self._line(f"[{self.done:>{len(total)}}/{total}] {row.outcome:<8} {row.seconds:7.2f}s  {row.nodeid}",
                   row.outcome)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        rows = [r for r in self.rows.values() if r.outcome]
        if not rows:
            return
        tr = terminalreporter
        tr.section("cascade run summary")
        width = max(len("test"), *(len(r.nodeid) for r in rows))
        tr.write_line(f"{'test':<{width}}  {'outcome':<8} {'time':>8}", bold=True)
        for r in rows:
            tr.write_line(f"{r.nodeid:<{width}}  {r.outcome:<8} {r.seconds:7.2f}s", **{_MARKUP.get(r.outcome, "bold"): True})
        tr.write_line(self.totals_line(rows), bold=True)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        path = self.config.getoption("--cascade-summary")
        if path:
            rows = [r for r in self.rows.values() if r.outcome]
            Path(path).write_text(json.dumps({
                "exit_status": int(exitstatus), "seconds": round(time.monotonic() - self.t0, 3),
                "counts": dict(Counter(r.outcome for r in rows)),
                "tests": [{k: v for k, v in asdict(r).items() if k != "phases"} for r in rows],
            }, indent=1))

    def totals_line(self, rows: list[Row]) -> str:
        counts = Counter(r.outcome for r in rows)
        parts = ", ".join(f"{counts[o]} {o}" for o in _RANK if counts[o])
        return f"{len(rows)} tests: {parts}; {sum(r.seconds for r in rows):.1f} s in tests, " \
               f"{time.monotonic() - self.t0:.1f} s in all"

    def _line(self, text: str, outcome: str) -> None:
        tr = self.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            tr.write_line(text, **{_MARKUP.get(outcome, "bold"): True})
