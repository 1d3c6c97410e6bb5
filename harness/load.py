"""Moved to harness.observe.load; this path keeps old imports working."""

from .observe.load import Load, LoadSample, WindowStats, percentile

__all__ = ["Load", "LoadSample", "WindowStats", "percentile"]
