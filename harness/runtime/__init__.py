"""Runtimes: how a mesh runs (local processes, or Docker Compose), each registered by name (base.py).

Importing this package registers the built-in runtimes; none of them imports docker until used.
"""

from .base import RUNTIMES, BaseRuntime, Runtime, RuntimeFactory, make_runtime, register_runtime

# The built-in runtimes: each registers itself (and its run-state reapers) when imported, in this
# order, which is the order RUNTIMES, --runtime and error messages list them in (local, the default, first).
from . import local  # noqa: F401,I001 - imported to register, not to use
from . import compose  # noqa: F401,I001 - imported to register; it imports docker only when used

__all__ = ["BaseRuntime", "RUNTIMES", "Runtime", "RuntimeFactory", "make_runtime", "register_runtime"]
