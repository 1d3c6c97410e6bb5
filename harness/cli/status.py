"""`cascade status`: the mesh `cascade up` left running: services, proxies, active faults."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from ._common import colour, print_json

__all__ = ["add_topology_option", "held_name", "register", "render", "run"]


def run(args: argparse.Namespace) -> int:
    from ..paths import state_dir
    from ._held import call, find_held

    held, _path = find_held(state_dir(), held_name(args))
    status = call(held, "status")
    if args.json:
        print_json(status)
    else:
        print(render(status))
    return 0


def render(st: dict[str, Any]) -> str:
    """The status as a person reads it: one table per part, problems in colour on a terminal."""
    lines = [colour(f"mesh {st['topology']!r} ({st['runtime']}, {st['mode']})", "bold")
             + f"  up since {st['started']}, holder pid {st['holder_pid']}, run {st['run_id']}",
             f"toxiproxy {st['toxiproxy']['url']}  (v{st['toxiproxy']['version']})",
             f"logs {st['logs']}", "", "services"]
    rows = [("name", "state", "health", "pid", "url")]
    rows += [(s["name"], s["state"], s["health"], str(s["pid"] or "-"), s["url"]) for s in st["services"]]
    lines += _table(rows, lambda row: "green" if row[2] == "ok" else "red")
    lines += ["", "proxies (one per edge)"]
    rows = [("edge", "enabled", "listen -> upstream", "toxics")]
    rows += [(p["edge"], "yes" if p["enabled"] else "NO", f"{p['listen']} -> {p['upstream']}",
              ", ".join(_toxic(t) for t in p["toxics"]) or "-") for p in st["proxies"]]
    lines += _table(rows, lambda row: "" if row[1] == "yes" and row[3] == "-" else "yellow")
    engine = st.get("http_engine")
    if engine:
        lines += ["", f"HTTP engine ({engine['engine']}, admin {engine['admin']}): HTTP faults it serves now"]
        rows = [("edge", "listen", "rules")]
        rows += [(e["edge"], e["listen"], ", ".join(e["rules"]) or "-") for e in engine["edges"]]
        lines += _table(rows, lambda row: "" if row[2] == "-" else "yellow")
    sources = st.get("config_sources") or []
    if sources:
        lines += ["", "config sources"]
        rows = [("name", "kind", "where", "version", "sha256", "pushed")]
        rows += [(c["name"], c["kind"], c["where"], str(c["version"]) if c["version"] is not None else "?",
                  c["sha256"] or c.get("error", "")[:60], "; ".join(c["pushed"]) or "-") for c in sources]
        lines += _table(rows, lambda row: "" if row[5] == "-" else "yellow")
    faults = st["faults"]
    lines += ["", f"faults ({len(faults)} recorded)" if faults else "faults: none"]
    for f in faults:
        target = f["targets"][0] if f["targets"] else ""
        lines.append(colour(f"  {f['fault']}  {f['state']} since {f['since']}", "yellow")
                     + f"   heal: cascade heal {shlex.quote(target)}")
    return "\n".join(lines)


def _toxic(t: dict[str, Any]) -> str:
    attrs = " ".join(f"{k}={v}" for k, v in sorted(t["attributes"].items()))
    share = f" toxicity={t['toxicity']}" if t["toxicity"] != 1 else ""
    return f"{t['type']} {t['stream']} {attrs}{share}"


def _table(rows: list[tuple[str, ...]], tone: Any) -> list[str]:
    """Rows padded into columns, the header dim; `tone(row)` names a colour for a row ('' for none)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, row in enumerate(rows):
        text = "  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip()
        name = "dim" if n == 0 else tone(row)
        out.append(colour(text, name) if name else text)
    return out


def held_name(args: argparse.Namespace) -> str | None:
    """The topology name `--topology PATH` selects, or None (the one mesh that is up)."""
    from ..topology import load_topology

    return load_topology(args.topology).name if args.topology else None


def add_topology_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--topology", metavar="PATH", help="which mesh, when `cascade up` started several")


def register(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("status", help="services, proxies and active faults of the mesh `cascade up` started",
                       epilog="examples:\n  cascade status\n  cascade status --json | jq '.faults'",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    add_topology_option(s)
    s.add_argument("--json", action="store_true", help="machine-readable output")
    s.set_defaults(func=run)
