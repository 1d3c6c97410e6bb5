"""Moved to harness.suite.soak; this path keeps old imports working."""

from .suite.soak import (  # noqa: F401 - re-exported
    RunSample,
    SoakReport,
    failure_class,
    flakes,
    listening_sockets,
    render,
    run_soak,
    trend,
)

__all__ = [
    "RunSample",
    "SoakReport",
    "failure_class",
    "flakes",
    "listening_sockets",
    "render",
    "run_soak",
    "trend",
]
