"""Every module path harness/ had before it was laid out by role still imports, as a shim with a sorted __all__.

Tests, scenarios, bench scripts and emitted scenarios written against the old paths keep working;
each old name is the very object of its new home.
"""

from __future__ import annotations

import importlib

import pytest

MOVED = {
    "harness.verdicts": "harness.judge.verdicts", "harness.contracts": "harness.judge.contracts",
    "harness.blast": "harness.judge.blast", "harness.assertions": "harness.judge.assertions",
    "harness.at_rest": "harness.judge.at_rest", "harness.evidence": "harness.judge.evidence",
    "harness.observe": "harness.observe.journeys", "harness.load": "harness.observe.load",
    "harness.explore": "harness.explore.explorer", "harness.explore_pool": "harness.explore.pool",
    "harness.strategies": "harness.explore.strategies", "harness.trial": "harness.explore.trial",
    "harness.sweep": "harness.explore.sweep", "harness.journal": "harness.explore.journal",
    "harness.minimize": "harness.explore.minimize",
    "harness.allure_generator": "harness.report.allure_generator", "harness.report_svg": "harness.report.report_svg",
    "harness.svg": "harness.report.svg", "harness.topology_svg": "harness.report.topology_svg",
    "harness.allure_report": "harness.report.recorder",
    "harness.toxiproxy": "harness.clients.toxiproxy", "harness.probe": "harness.clients.probe",
    "harness.transport": "harness.clients.transport",
    "harness.runstate": "harness.runtime.runstate", "harness.provision": "harness.runtime.provision",
    "harness.ports": "harness.runtime.ports",
    "harness.verify": "harness.suite.verify", "harness.soak": "harness.suite.soak", "harness.confirm": "harness.suite.confirm",
    "harness.apply": "harness.faults.base", "harness.process_faults": "harness.faults.process",
    "harness.config_faults": "harness.faults.config", "harness.configpush": "harness.config.http",
}  # fmt: skip


@pytest.mark.parametrize("old, new", sorted(MOVED.items()))
def test_the_old_path_re_exports_the_new_modules_names(old, new):
    shim = importlib.import_module(old)
    home = importlib.import_module(new)
    assert shim.__all__ == sorted(shim.__all__), f"{old}.__all__ is not sorted"
    assert shim.__all__, f"{old} re-exports nothing"
    for name in shim.__all__:
        assert getattr(shim, name) is not None
    shared = set(shim.__all__) & set(getattr(home, "__all__", ()))
    assert shared, f"{old} shares no public name with {new}"
    for name in shared:
        assert getattr(shim, name) is getattr(home, name), f"{old}.{name} is not {new}.{name}"
