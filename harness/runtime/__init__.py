"""Runtimes: how a mesh runs (local processes, or Docker Compose), each registered by name (base.py).

Importing this package registers the built-in runtimes; none of them imports docker until used.
"""

from .base import (
    RUNTIMES, BaseRuntime, Runtime, RuntimeFactory, RuntimeTraits, make_runtime, register_runtime, runtime_traits,
)  # fmt: skip

from ..builtins import load_builtins

# Every module here registers what it defines when imported: local, the default, first, which is
# the order RUNTIMES, --runtime and error messages list them in; then the rest (compose imports
# docker only when used). A new runtime is one module dropped in.
load_builtins(__name__, __path__, first=("base", "local", "compose"))

__all__ = [
    "BaseRuntime", "RUNTIMES", "Runtime", "RuntimeFactory", "RuntimeTraits", "make_runtime", "register_runtime",
    "runtime_traits",
]  # fmt: skip
