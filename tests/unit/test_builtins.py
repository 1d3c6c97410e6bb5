"""load_builtins: a module dropped into an extension point's package is imported, and so registers itself."""

from __future__ import annotations

import sys

from harness.builtins import load_builtins


def test_every_public_module_is_imported_the_named_ones_first(tmp_path, monkeypatch):
    pkg = tmp_path / "extpoint_fixture"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("LOADED = []\n")
    for name in ("zeta", "alpha", "_private"):
        (pkg / f"{name}.py").write_text(f"from extpoint_fixture import LOADED\nLOADED.append({name!r})\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        import extpoint_fixture

        order = load_builtins("extpoint_fixture", extpoint_fixture.__path__, first=("zeta",))
        assert order == ["zeta", "alpha"]
        assert extpoint_fixture.LOADED == ["zeta", "alpha"]  # _private is not a built-in
    finally:
        for mod in [m for m in sys.modules if m.startswith("extpoint_fixture")]:
            del sys.modules[mod]


def test_the_four_extension_points_find_their_built_ins():
    from harness.config import CONFIG_SOURCES
    from harness.faults import FAULT_KINDS
    from harness.report import REPORTERS

    assert list(FAULT_KINDS)[:3] == ["latency", "bandwidth", "slow_close"] and "bad_config" in FAULT_KINDS
    assert "http" in CONFIG_SOURCES
    assert {"allure", "junit"} <= set(REPORTERS)


def test_a_definition_is_the_same_only_in_the_same_module_under_the_same_name():
    from harness.builtins import same_definition

    def factory():
        pass

    twin = type("T", (), {})
    other_module = type("T", (), {"__module__": "elsewhere"})
    assert same_definition(factory, factory)
    assert same_definition(twin, type("T", (), {}))  # a re-import: same module, same qualified name
    assert not same_definition(twin, other_module)  # same name in another module: a second definition
    assert not same_definition(factory, lambda: None)
