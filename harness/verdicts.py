"""Moved to harness.judge.verdicts; this path keeps old imports working."""

from .judge.verdicts import EXCERPT_CHARS, Observation, SEVERITY, classify, worse

__all__ = ["EXCERPT_CHARS", "Observation", "SEVERITY", "classify", "worse"]
