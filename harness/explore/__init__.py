"""Exploring for failures: strategies, trials, the search, sweeps, journals, minimizing.

The names of harness.explore.explorer are re-exported here (their old module path)."""

from .explorer import DATABASE_DIR, ExploreResult, Explorer, Progress, parse_budget

__all__ = ["DATABASE_DIR", "ExploreResult", "Explorer", "Progress", "parse_budget"]
