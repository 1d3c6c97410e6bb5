"""SVG primitives the report pictures share (pure): the canvas, text, the palette."""

from __future__ import annotations

from xml.sax.saxutils import escape

__all__ = ["CASCADE", "FAULT", "TOUCHED", "VERDICT_COLOURS", "WIDTH", "canvas", "clip", "text"]

VERDICT_COLOURS = {
    "full": "#2e9d5b",
    "degraded": "#e8b400",
    "failed_fast": "#ef7d1a",
    "hung": "#d62728",
    "wrong": "#9c27b0",
}
FAULT = "#44546a"
CASCADE = "#d62728"
TOUCHED = "#ef7d1a"
WIDTH = 1000
_FONT = "font-family='DejaVu Sans, Arial, sans-serif'"


def canvas(height: float) -> str:
    """The opening <svg> tag, WIDTH wide, on a white background (close it with </svg>)."""
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height:.0f}' "
            f"viewBox='0 0 {WIDTH} {height:.0f}' {_FONT}>\n<rect width='100%' height='100%' fill='#ffffff'/>")


def text(x: float, y: float, s: str, *, size: int = 12, fill: str = "#222", anchor: str = "start",
         weight: str = "") -> str:
    """A <text> element with `s` escaped."""
    bold = " font-weight='bold'" if weight else ""
    return (f"<text x='{x:.1f}' y='{y:.1f}' font-size='{size}' fill='{fill}' text-anchor='{anchor}'{bold}>"
            f"{escape(s)}</text>")


def clip(s: str, n: int) -> str:
    """`s`, cut to `n` characters with an ellipsis."""
    return s if len(s) <= n else s[: n - 1] + "…"
