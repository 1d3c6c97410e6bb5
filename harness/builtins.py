"""Discovery of the built-in kinds of each extension point: every module of the package is imported, and registers itself.

    harness/faults/   fault kinds      (register_fault_kind)
    harness/runtime/  runtimes         (register_runtime)
    harness/config/   config sources   (register_config_source)
    harness/report/   reporters        (register_reporter)

So a new built-in is one module dropped into its package; nothing else lists it.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Sequence

__all__ = ["load_builtins", "same_definition"]


def load_builtins(package: str, path: Sequence[str], *, first: Sequence[str] = ()) -> list[str]:
    """Import every public module of `package` (found on `path`), those in `first` first; returns their names."""
    found = sorted(m.name for m in pkgutil.iter_modules(list(path)) if not m.name.startswith("_"))
    order = [*first, *(name for name in found if name not in first)]
    for name in order:
        importlib.import_module(f"{package}.{name}")
    return order


def same_definition(held: object, new: object) -> bool:
    """Whether `new` is `held` defined again (same module and qualified name: a re-import), not a second thing.

    Every registry refuses a second definition under a taken name with this one rule, so no
    two factories that merely share a function name in different modules replace each other.
    """
    def where(obj: object) -> tuple[object, object]:
        return getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)

    return held is new or where(held) == where(new)
