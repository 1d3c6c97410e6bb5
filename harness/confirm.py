"""Moved to harness.suite.confirm; this path keeps old imports working."""

from .suite.confirm import RERUN_TIMEOUT_S, Rerun, classify_rerun, rerun, rerun_argv

__all__ = ["RERUN_TIMEOUT_S", "Rerun", "classify_rerun", "rerun", "rerun_argv"]
