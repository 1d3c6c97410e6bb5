"""Reporters: the registry the plugin iterates, the built-in formats' switches, JUnit's failure-class property."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from harness.errors import UsageError
from harness.report import REPORTERS, Recording, Reporter, enabled_reporters, register_reporter


def config(*plugins: str) -> Any:
    return SimpleNamespace(pluginmanager=SimpleNamespace(has_plugin=lambda name: name in plugins))


def test_allure_and_junit_are_registered_in_that_order():
    assert list(REPORTERS)[:2] == ["allure", "junit"]
    assert all(isinstance(r, Reporter) for r in REPORTERS.values())


def test_allure_is_enabled_by_alluredir_and_is_the_one_that_records():
    assert [n for n, r in REPORTERS.items() if r in enabled_reporters(config("allure_listener"))] == ["allure", "junit"]
    assert [n for n, r in REPORTERS.items() if r in enabled_reporters(config())] == ["junit"]
    assert REPORTERS["allure"].records and not REPORTERS["junit"].records


def test_junit_carries_the_failure_class_on_the_item_and_the_report():
    item, report = SimpleNamespace(user_properties=[]), SimpleNamespace(user_properties=[])
    REPORTERS["junit"].classified(item, report, "flaky")
    assert item.user_properties == report.user_properties == [("cascade_failure_class", "flaky")]


def test_a_registered_reporter_is_called_by_the_same_interface():
    written: list[Recording] = []

    @register_reporter("listing")
    class Listing:
        records = False

        def enabled(self, config: Any) -> bool:
            return True

        def write(self, recording: Recording) -> None:
            written.append(recording)

        def classified(self, item: Any, report: Any, classification: str) -> None:
            pass

    try:
        (mine,) = [r for r in enabled_reporters(config()) if isinstance(r, Listing)]
        recording = Recording(chaos=None, recorder=None, title="t", topology_path="x.toml", runtime="local",  # type: ignore[arg-type]
                              config=None)
        mine.write(recording)
        assert written == [recording]
    finally:
        REPORTERS.pop("listing")


def test_a_class_that_is_not_a_reporter_is_refused_naming_what_it_lacks():
    with pytest.raises(UsageError, match="reporter 'half' .* lacks enabled, write, classified"):
        register_reporter("half")(type("Half", (), {"records": True}))
    assert "half" not in REPORTERS
    with pytest.raises(UsageError, match="'allure' is already registered"):
        register_reporter("allure")(type("Other", (), {}))
