"""Moved to harness.explore.minimize; this path keeps old imports working."""

from .explore.minimize import (  # noqa: F401 - re-exported
    FLAKY,
    Outcome,
    REPRODUCIBLE,
    Removal,
    UNCONFIRMED,
    confirm_and_minimize,
    describe,
    rerun_at_rest,
    units,
    without,
)

__all__ = [
    "FLAKY",
    "Outcome",
    "REPRODUCIBLE",
    "Removal",
    "UNCONFIRMED",
    "confirm_and_minimize",
    "describe",
    "rerun_at_rest",
    "units",
    "without",
]
