"""Moved to harness.report.svg; this path keeps old imports working."""

from .report.svg import CASCADE, FAULT, TOUCHED, VERDICT_COLOURS, WIDTH, canvas, clip, text

__all__ = ["CASCADE", "FAULT", "TOUCHED", "VERDICT_COLOURS", "WIDTH", "canvas", "clip", "text"]
