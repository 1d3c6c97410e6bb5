"""Moved to harness.report.topology_svg; this path keeps old imports working."""

from .report.topology_svg import topology_svg

__all__ = ["topology_svg"]
