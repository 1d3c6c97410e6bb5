"""The fault timeline as an SVG picture, built from values only (pure: no I/O, no plotting dependency).

    faults      a row per fault, a bar per application (applied -> reverted; a dashed red outline
                when an apply or revert failed), its window shaded down through every lane
    journeys    a lane per journey: every observation a point (x = when it started, y = its
                latency against the journey's dashed budget line, colour = its verdict) over a
                strip of verdict colours; the baseline at the left edge
    tags        a journey that broke its contract is marked; one outside the blast radius that
                changed anyway is tinted red and tagged CASCADE, and so is the headline

Elements carry a `class` (fault-bar, fault-window, lane, obs, verdict-strip, baseline) so tests
and stylesheets can find them. The topology picture is `topology_svg.py`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Collection, Iterable, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from .svg import CASCADE, FAULT, VERDICT_COLOURS, WIDTH, canvas, clip, text
from ..judge.verdicts import SEVERITY, Observation

if TYPE_CHECKING:
    from ..topology import Topology

__all__ = ["timeline_svg"]

_LABEL_W = 230
_PLOT_X = _LABEL_W + 20
_PLOT_W = WIDTH - _PLOT_X - 25
_FAULT_ROW = 24
_LANE = 46


def timeline_svg(
    topology: Topology,
    events: Iterable[Any],
    observations: Iterable[Observation],
    *,
    origin_s: float,
    baseline: Mapping[str, Observation] | None = None,
    inside: Collection[str] = (),
    broken: Collection[str] = (),
    cascades: Collection[str] = (),
    title: str = "",
) -> str:
    """The fault timeline over the journeys' latency and verdicts; times are seconds since `origin_s`.

    `inside`: the journeys in the faults' blast radius; `broken`: those that broke their contract;
    `cascades`: those outside the radius that changed anyway.
    """
    events = sorted(events, key=lambda e: e.t_s)
    obs = sorted(observations, key=lambda o: o.at_s)
    bars = _fault_bars(events)
    rows = list(dict.fromkeys(f for f, *_ in bars))
    end = max([e.t_s for e in events] + [o.at_s - origin_s + o.elapsed_ms / 1000 for o in obs] + [0.5])
    step = _nice_step(end / 6)
    span = step * math.ceil(end / step)

    def x(t: float) -> float:
        return _PLOT_X + _PLOT_W * max(0.0, min(t, span)) / span

    top = 62
    lanes_y = top + _FAULT_ROW * max(1, len(rows)) + 18
    journeys = sorted(topology.journeys)
    bottom = lanes_y + _LANE * len(journeys)
    height = bottom + 80
    out = [canvas(height), text(16, 24, title or "fault timeline", size=15, weight="bold")]
    out += _summary(sorted(broken), sorted(cascades))
    by_journey: dict[str, list[Observation]] = {}
    for o in obs:
        by_journey.setdefault(o.journey, []).append(o)
    lanes = [_lane(topology.journeys[name], lanes_y + _LANE * i, by_journey.get(name, []), x, origin_s, end,
                   (baseline or {}).get(name), name in inside, name in broken, name in cascades)
             for i, name in enumerate(journeys)]
    out += [line for back, _ in lanes for line in back]
    # Fault windows, shaded over every lane's background: the "during" of the picture.
    for _fault, start, stop, _ok in bars:
        out.append(f"<rect class='fault-window' x='{x(start):.1f}' y='{top - 4}' width='{max(1.0, x(stop) - x(start)):.1f}' "
                   f"height='{bottom - top + 4:.1f}' fill='{FAULT}' fill-opacity='0.09'/>")
        for t in (start, stop):
            out.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{top - 4}' y2='{bottom}' stroke='{FAULT}' "
                       "stroke-width='0.8' stroke-dasharray='2 3'/>")
    out += [line for _, front in lanes for line in front]
    out += _fault_rows(bars, rows, top, x)
    out += _axis(bottom, span, x)
    out += _legend(height - 26)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _summary(broken: list[str], cascades: list[str]) -> list[str]:
    """The line under the title: what broke, and whether anything cascaded."""
    if cascades:
        return [text(16, 44, f"CASCADE outside the blast radius: {', '.join(cascades)}", size=12, fill=CASCADE,
                      weight="bold")]
    line = f"contract broken: {', '.join(broken)} · no cascade outside the blast radius" if broken else \
        "every journey kept its contract · no cascade outside the blast radius"
    return [text(16, 44, line, size=12, fill="#b3261e" if broken else "#555")]


def _fault_rows(bars: list[tuple[str, float, float, bool]], rows: list[str], top: float, x: Any) -> list[str]:
    """One row per fault: a bar per application, labelled inside the bar when it fits, else on the left."""
    if not rows:
        return [text(_PLOT_X, top + 15, "(no faults applied)", size=11, fill="#777")]
    out = []
    for fault in rows:
        y = top + _FAULT_ROW * rows.index(fault) + 3
        mine = [(start, stop, ok) for f, start, stop, ok in bars if f == fault]
        for start, stop, ok in mine:
            w = max(3.0, x(stop) - x(start))
            stroke = "" if ok else f" stroke='{CASCADE}' stroke-width='2' stroke-dasharray='4 2'"
            out.append(f"<rect class='fault-bar' data-fault={quoteattr(fault)} x='{x(start):.1f}' y='{y}' width='{w:.1f}' "
                       f"height='{_FAULT_ROW - 6}' rx='3' fill='{FAULT}'{stroke}><title>{escape(fault)}: "
                       f"+{start:.3f}s to +{stop:.3f}s</title></rect>")
        first_w = x(mine[0][1]) - x(mine[0][0])
        if first_w >= 6.5 * len(fault) + 12:
            out.append(text(x(mine[0][0]) + 6, y + 13, fault, size=11, fill="#ffffff"))
        else:
            out.append(text(_PLOT_X - 8, y + 13, clip(fault, 34), size=11, anchor="end", fill=FAULT))
    return out


def _fault_bars(events: Sequence[Any]) -> list[tuple[str, float, float, bool]]:
    """(fault, applied at, reverted at, both went well) per application; an unreverted one runs to the end."""
    bars: list[tuple[str, float, float, bool]] = []
    open_: dict[str, list[float]] = {}
    end = max([e.t_s for e in events], default=0.0)
    for e in events:
        if e.action == "applied":
            open_.setdefault(e.fault, []).append(e.t_s)
        elif e.action in ("reverted", "revert_failed") and open_.get(e.fault):
            bars.append((e.fault, open_[e.fault].pop(0), e.t_s, e.action == "reverted"))
        elif e.action == "apply_failed":
            bars.append((e.fault, e.t_s, e.t_s, False))
    bars += [(f, t, end, False) for f, starts in open_.items() for t in starts]
    return sorted(bars, key=lambda b: (b[1], b[0]))


def _lane(journey: Any, y: float, obs: list[Observation], x: Any, origin_s: float, end: float,
          base: Observation | None, inside: bool, broken: bool, cascade: bool) -> tuple[list[str], list[str]]:
    """A journey's lane: (its background, drawn under the fault windows; its marks, drawn over them)."""
    budget = journey.budget_ms
    top_ms = budget * 1.4
    plot_top, plot_h = y + 5, _LANE - 16

    def ly(ms: float) -> float:
        return plot_top + plot_h * (1 - min(ms, top_ms) / top_ms)

    fill = "#fde8e8" if cascade else ("#f3f5f9" if inside else "#ffffff")
    back = [f"<rect x='0' y='{y}' width='{WIDTH}' height='{_LANE}' fill='{fill}' stroke='#e2e5ea'/>"]
    where = "CASCADE" if cascade else "inside radius" if inside else "outside radius"
    ink = CASCADE if cascade or broken else "#222"
    out = [f"<g class='lane{' cascade' if cascade else ''}{' broken' if broken else ''}' data-journey={quoteattr(journey.name)}>",
           text(16, y + 19, journey.name + ("  ✗ contract" if broken else ""), size=13, weight="bold", fill=ink),
           text(16, y + 35, f"{where} · budget {budget} ms", size=10, fill=CASCADE if cascade else "#666")]
    if base is not None:
        out.append(f"<circle class='baseline' cx='{_PLOT_X - 22}' cy='{ly(base.elapsed_ms):.1f}' r='4' "
                   f"fill='{VERDICT_COLOURS[base.verdict]}' stroke='#333' stroke-width='0.8'><title>baseline: "
                   f"{base.verdict} {base.elapsed_ms:.0f} ms</title></circle>")
    out.append(f"<line x1='{_PLOT_X}' x2='{_PLOT_X + _PLOT_W}' y1='{ly(budget):.1f}' y2='{ly(budget):.1f}' "
               "stroke='#999' stroke-dasharray='3 3' stroke-width='0.8'/>")
    # The verdict strip: each observation's colour while its request ran, paler from then until the
    # next observation (the last one: to the end), so a verdict reads as a state over time.
    strip_y = y + _LANE - 9
    for o, nxt in zip(obs, [*obs[1:], None]):
        t0, t1 = o.at_s - origin_s, (nxt.at_s - origin_s) if nxt is not None else end
        done = min(t1, t0 + o.elapsed_ms / 1000)
        colour = VERDICT_COLOURS[o.verdict]
        out.append(f"<rect class='verdict-strip' x='{x(t0):.1f}' y='{strip_y}' width='{max(1.5, x(done) - x(t0)):.1f}' "
                   f"height='6' fill='{colour}'/>")
        if t1 > done:
            out.append(f"<rect x='{x(done):.1f}' y='{strip_y}' width='{x(t1) - x(done):.1f}' height='6' fill='{colour}' "
                       "fill-opacity='0.4'/>")
    for o in obs:
        t0 = o.at_s - origin_s
        cy = ly(o.elapsed_ms)
        out.append(f"<line x1='{x(t0):.1f}' x2='{x(t0 + o.elapsed_ms / 1000):.1f}' y1='{cy:.1f}' y2='{cy:.1f}' "
                   f"stroke='{VERDICT_COLOURS[o.verdict]}' stroke-opacity='0.35' stroke-width='2'/>")
        r = 3.5 + 0.6 * SEVERITY[o.verdict]
        out.append(f"<circle class='obs' data-verdict='{o.verdict}' cx='{x(t0):.1f}' cy='{cy:.1f}' r='{r:.1f}' "
                   f"fill='{VERDICT_COLOURS[o.verdict]}' stroke='#fff' stroke-width='0.8'><title>"
                   f"+{t0:.3f}s {escape(journey.name)}: {o.verdict}, {escape(clip(o.reason, 160))}"
                   "</title></circle>")
    out.append("</g>")
    return back, out


def _axis(y: float, span: float, x: Any) -> list[str]:
    step = _nice_step(span / 6)
    out = [f"<line x1='{_PLOT_X}' x2='{_PLOT_X + _PLOT_W}' y1='{y}' y2='{y}' stroke='#333'/>"]
    for i in range(int(round(span / step)) + 1):
        t = i * step
        out.append(f"<line x1='{x(t):.1f}' x2='{x(t):.1f}' y1='{y}' y2='{y + 4}' stroke='#333'/>")
        out.append(text(x(t), y + 16, f"{t:g}s", size=10, anchor="middle"))
    out.append(text(_PLOT_X - 22, y + 16, "base", size=10, anchor="middle", fill="#666"))
    return out


def _legend(y: float) -> list[str]:
    out, lx = [], 16.0
    for verdict, colour in VERDICT_COLOURS.items():
        out.append(f"<circle cx='{lx + 5}' cy='{y - 4}' r='5' fill='{colour}'/>")
        out.append(text(lx + 14, y, verdict, size=11))
        lx += 24 + 7 * len(verdict)
    out.append(f"<rect x='{lx + 10}' y='{y - 10}' width='26' height='12' fill='{FAULT}' fill-opacity='0.25'/>")
    out.append(text(lx + 42, y, "fault active · point height = latency, dashed = budget", size=11))
    return out


def _nice_step(raw: float) -> float:
    """1, 2 or 5 times a power of ten, at least `raw`."""
    raw = max(raw, 1e-3)
    power = 10 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
