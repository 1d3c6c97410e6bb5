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

__all__ = ["load_builtins"]


def load_builtins(package: str, path: Sequence[str], *, first: Sequence[str] = ()) -> list[str]:
    """Import every public module of `package` (found on `path`), those in `first` first; returns their names."""
    found = sorted(m.name for m in pkgutil.iter_modules(list(path)) if not m.name.startswith("_"))
    order = [*first, *(name for name in found if name not in first)]
    for name in order:
        importlib.import_module(f"{package}.{name}")
    return order
