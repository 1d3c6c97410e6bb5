"""Moved to harness.report.report_svg; this path keeps old imports working."""

from .report.report_svg import timeline_svg

__all__ = ["timeline_svg"]
