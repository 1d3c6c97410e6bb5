"""Moved to harness.judge.assertions; this path keeps old imports working."""

from .judge.assertions import ChaosAssertions

__all__ = ["ChaosAssertions"]
