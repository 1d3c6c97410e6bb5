"""Moved to harness.judge.at_rest; this path keeps old imports working."""

from .judge.at_rest import (  # noqa: F401 - re-exported
    AT_REST_WITHIN_S,
    AtRestProblem,
    at_rest_problems,
    broken_at_rest,
    likely_fix,
    settle_at_rest,
)

__all__ = [
    "AT_REST_WITHIN_S",
    "AtRestProblem",
    "at_rest_problems",
    "broken_at_rest",
    "likely_fix",
    "settle_at_rest",
]
