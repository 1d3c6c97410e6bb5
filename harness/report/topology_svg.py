"""The topology as an SVG picture with the blast radius drawn (pure: values in, text out).

    columns by call depth (the topology is acyclic), every edge an arrow from caller to callee
    red        faulted edges and services (a faulted service cuts every edge into and out of it)
    orange     services at the ends of a faulted edge; edges of the journeys that changed verdict
    dashed     the undeclared route a cascade took
    below      every journey's verdict, baseline -> during, and why it is marked

Elements carry a `class` (node faulted, node touched, edge faulted, edge route, journey cascade, ...)
so tests and stylesheets can find them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Collection, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from ..judge.blast import service_chain
from .svg import CASCADE, TOUCHED, VERDICT_COLOURS, WIDTH, canvas, text

if TYPE_CHECKING:
    from ..topology import Topology

__all__ = ["topology_svg"]


def topology_svg(
    topology: Topology,
    *,
    edges: Collection[str] = (),
    services: Collection[str] = (),
    verdicts: Mapping[str, tuple[str | None, str | None]] | None = None,
    cascades: Mapping[str, Sequence[str]] | None = None,
    title: str = "",
) -> str:
    """The topology with the blast radius drawn: faulted edges/services, changed journeys, cascade routes."""
    verdicts, cascades = verdicts or {}, cascades or {}
    cut = set(edges) | {e.name for s in services for e in topology.edges_of(s)}
    changed = {j for j, (b, d) in verdicts.items() if b and d and b != d}
    on_changed = {e for j in changed for e in topology.journeys[j].edges} if changed else set()
    on_route = {e for route in cascades.values() for e in route if "->" in e}
    touched = set(services) | {s for e in cut for s in (topology.edges[e].caller, topology.edges[e].callee)}
    pos = _layout(topology)
    graph_h = max(y for _, y in pos.values()) + 50
    journeys = sorted(topology.journeys)
    height = int(graph_h + 20 * len(journeys) + 90)
    out = [canvas(height), _marker("arrow", "#8a8f98"), _marker("arrow-hot", CASCADE), _marker("arrow-warm", TOUCHED),
           text(16, 24, title or f"topology {topology.name}: blast radius", size=15, weight="bold")]
    ports = _ports(topology, pos)
    drawn = []
    for name in sorted(topology.edges):
        e = topology.edges[name]
        (x1, _), (x2, _) = pos[e.caller], pos[e.callee]
        y1, y2 = ports[name]
        rank, cls, colour, width, dash, arrow = 0, "edge", "#b5bac2", 1.2, "", "arrow"
        if name in on_changed:
            rank, cls, colour, width, arrow = 1, "edge changed", TOUCHED, 2.2, "arrow-warm"
        if name in on_route:
            rank, cls, colour, width, dash, arrow = 2, "edge route", CASCADE, 2.2, " stroke-dasharray='6 4'", "arrow-hot"
        if name in cut:
            rank, cls, colour, width, dash, arrow = 3, "edge faulted", CASCADE, 4.0, "", "arrow-hot"
        sx, ex = x1 + 55, x2 - 58
        mid = (sx + ex) / 2
        drawn.append((rank, f"<path class='{cls}' data-edge={quoteattr(name)} d='M{sx:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} "
                      f"{mid:.0f},{y2:.0f} {ex:.0f},{y2:.0f}' fill='none' stroke='{colour}' stroke-width='{width}'{dash} "
                      f"marker-end='url(#{arrow})'><title>{escape(name)}</title></path>"))
    out += [svg for _, svg in sorted(drawn, key=lambda d: d[0])]  # the highlighted edges on top
    for name, (cx, cy) in sorted(pos.items()):
        cls, fill, stroke, ink = "node", "#ffffff", "#6b7280", "#222"
        if name in touched:
            cls, stroke = "node touched", TOUCHED
        if name in services:
            cls, fill, stroke, ink = "node faulted", CASCADE, CASCADE, "#ffffff"
        out.append(f"<g class='{cls}' data-service={quoteattr(name)}><rect x='{cx - 55}' y='{cy - 17}' width='110' "
                   f"height='34' rx='7' fill='{fill}' stroke='{stroke}' stroke-width='{2.5 if name in touched else 1.2}'/>"
                   + text(cx, cy + 5, name, size=13, anchor="middle", fill=ink, weight="bold") + "</g>")
    y = graph_h + 20
    out.append(text(16, y, "journeys (baseline → during)", size=12, weight="bold"))
    for i, name in enumerate(journeys):
        out += _journey_row(name, 16, y + 20 * (i + 1), verdicts.get(name, (None, None)), name in changed,
                            cascades.get(name))
    y += 20 * (len(journeys) + 2)
    for i, (colour, dash, what) in enumerate(((CASCADE, "", "faulted edge or service"),
                                              (TOUCHED, "", "edge of a journey that changed"),
                                              (CASCADE, " stroke-dasharray='6 4'", "undeclared route of a cascade"))):
        lx = 16 + 300 * i
        out.append(f"<line x1='{lx}' x2='{lx + 30}' y1='{y - 4}' y2='{y - 4}' stroke='{colour}' stroke-width='3'{dash}/>")
        out.append(text(lx + 38, y, what, size=11))
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _layout(topology: Topology) -> dict[str, tuple[float, float]]:
    """Centres of the services: columns by longest call depth (the topology is acyclic), rows by callers' mean row."""
    depth: dict[str, int] = {s: 0 for s in topology.services}
    for _ in range(len(depth)):  # longest-path relaxation; bounded because the graph is acyclic
        for e in topology.edges.values():
            depth[e.callee] = max(depth[e.callee], depth[e.caller] + 1)
    columns: dict[int, list[str]] = {}
    for name in sorted(depth):
        columns.setdefault(depth[name], []).append(name)
    row: dict[str, float] = {}
    for d in sorted(columns):
        def mean_caller_row(s: str) -> float:
            callers = [row[e.caller] for e in topology.edges.values() if e.callee == s and e.caller in row]
            return sum(callers) / len(callers) if callers else 0.0
        for i, name in enumerate(sorted(columns[d], key=lambda s: (mean_caller_row(s), s))):
            row[name] = i - (len(columns[d]) - 1) / 2
    tallest = max(len(c) for c in columns.values())
    gap_x = (WIDTH - 160) / max(1, len(columns) - 1)
    return {s: (80 + gap_x * depth[s], 60 + 30 + 62 * ((tallest - 1) / 2 + row[s])) for s in depth}


def _ports(topology: Topology, pos: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Per edge, where it leaves its caller and enters its callee: spread along the box side, ordered by the other end."""
    leave: dict[str, list[str]] = {}
    enter: dict[str, list[str]] = {}
    for name, e in topology.edges.items():
        leave.setdefault(e.caller, []).append(name)
        enter.setdefault(e.callee, []).append(name)

    def spread(groups: dict[str, list[str]], other: Any) -> dict[str, float]:
        at = {}
        for node, names in groups.items():
            names.sort(key=lambda n: (pos[other(topology.edges[n])][1], n))
            for i, n in enumerate(names):
                at[n] = pos[node][1] + (i - (len(names) - 1) / 2) * min(6.0, 26.0 / max(1, len(names) - 1))
        return at

    out_y = spread(leave, lambda e: e.callee)
    in_y = spread(enter, lambda e: e.caller)
    return {n: (out_y[n], in_y[n]) for n in topology.edges}


def _journey_row(name: str, x: float, y: float, pair: tuple[str | None, str | None], changed: bool,
                 route: Sequence[str] | None) -> list[str]:
    cls = "journey" + (" changed" if changed else "") + (" cascade" if route is not None else "")
    ink = CASCADE if route is not None else "#222"
    out = [f"<g class='{cls}' data-journey={quoteattr(name)}>", text(x, y, name, size=12, fill=ink, weight="bold")]
    cx = x + 150
    for verdict in pair:
        colour = VERDICT_COLOURS.get(verdict or "", "#cccccc")
        out.append(f"<rect x='{cx}' y='{y - 11}' width='86' height='15' rx='3' fill='{colour}'/>")
        out.append(text(cx + 43, y, verdict or "-", size=10, anchor="middle", fill="#fff", weight="bold"))
        cx += 100
    if route is not None:
        via = service_chain(route) if route else "no route in the topology"
        out.append(text(cx, y, f"CASCADE outside its blast radius; undeclared route: {via}", size=11, fill=CASCADE))
    elif changed:
        out.append(text(cx, y, "changed, inside its blast radius", size=11, fill="#666"))
    out.append("</g>")
    return out


def _marker(ident: str, colour: str) -> str:
    return (f"<defs><marker id='{ident}' viewBox='0 0 10 10' refX='9' refY='5' markerUnits='userSpaceOnUse' "
            "markerWidth='11' markerHeight='11' "
            f"orient='auto-start-reverse'><path d='M0,0 L10,5 L0,10 z' fill='{colour}'/></marker></defs>")
