"""The public surface is explicit: every module's __all__ is sorted and names only what exists."""

import importlib
import pkgutil

import pytest

import harness

# plugin is loaded by pytest itself; a __main__ module runs on import.
MODULES = sorted(m.name for m in pkgutil.walk_packages(harness.__path__, "harness.")
                 if m.name != "harness.plugin" and not m.name.endswith(".__main__"))


def test_the_package_exports_a_sorted_all_of_real_names():
    assert harness.__all__ == sorted(harness.__all__)
    assert len(set(harness.__all__)) == len(harness.__all__)
    for name in harness.__all__:
        assert getattr(harness, name) is not None


@pytest.mark.parametrize("module", MODULES)
def test_every_module_declares_a_sorted_all(module):
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    assert names is not None, f"{module} has no __all__"
    assert list(names) == sorted(names), f"{module}.__all__ is not sorted"
    missing = [n for n in names if not hasattr(mod, n)]
    assert not missing, f"{module}.__all__ names what it does not define: {missing}"


def test_importing_the_package_starts_nothing():
    import threading

    before = threading.active_count()
    importlib.reload(harness)
    assert threading.active_count() == before
