"""Moved to harness.explore.sweep; this path keeps old imports working."""

from .explore.sweep import Case, SweepReport, pairs_to_run, representatives, run_case, sweep, unfaulted_edges

__all__ = ["Case", "SweepReport", "pairs_to_run", "representatives", "run_case", "sweep", "unfaulted_edges"]
