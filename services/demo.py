"""`cascade demo`: the March 2023 outage reproduced on the bundled mesh, brittle then resilient, side by side.

    for mode in (brittle, resilient):
        bring the mesh up ─> steady state ─> push "end free API access" ─> every journey
        ─> roll the config back ─> wait for recovery ─> tear down
    print both columns side by side; write the report and the journal to disk
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from harness.chaos import Chaos
from harness.faults import BadConfig
from harness.mesh import Mesh
from harness.observe.journeys import wait_for_recovery
from harness.topology import load_topology
from harness.judge.verdicts import Observation

from .presets import end_free_api_access

__all__ = ["TOPOLOGY", "run_demo"]

TOPOLOGY = Path(__file__).with_name("topology.toml")
WIDTH = 100


@dataclass(frozen=True)
class Act:
    """What one mode showed: its steady state, the journeys under the bad push, and recovery."""

    mode: str
    up_s: float
    before: dict[str, Observation]
    during: dict[str, Observation]
    recovered_s: float | None
    history: list[dict]


def _seen(o: Observation) -> str:
    """What the user of this journey actually got, in one line."""
    if o.status is None:
        return o.error or "no answer"
    ctype = o.headers.get("content-type", "")
    if ctype and not ctype.startswith(("text/", "application/json")):
        body = f"<{ctype}, {o.headers.get('content-length', '?')} bytes>"  # an image: say so, don't print it
    else:
        body = " ".join(o.body_excerpt.split())
    where = o.headers.get("location", "")
    shown = f"-> {where}" if 300 <= o.status < 400 and where else body
    extra = f" [fallback: {', '.join(o.fallbacks)}]" if o.fallbacks else ""
    return f"{o.status} {shown}"[:72] + extra


def _act(mode: str, out: TextIO, state_dir: Path | None) -> Act:
    topo = load_topology(TOPOLOGY)
    t0 = time.monotonic()
    with Mesh(topo, mode=mode, state_dir=state_dir) as mesh:
        up_s = time.monotonic() - t0
        print(f"  mesh up in {up_s:.1f} s: {len(topo.services)} services, {len(topo.edges)} edges each behind "
              f"its own Toxiproxy proxy", file=out)
        before = mesh.journeys()
        full = sum(o.verdict == "full" for o in before.values())
        print(f"  steady state: {full} of {len(before)} journeys full", file=out)
        chaos = Chaos(mesh, observe=False)
        rules = mesh.config("entitlements")  # the gateway's entitlement rules, an etcd key
        push = BadConfig(end_free_api_access(rules.current().document), name="end free API access",
                         source="entitlements")
        with chaos.inject(push):  # returns once the gateway logged that it applied the push
            print(f"  pushed {rules.spec.key} to etcd (version {rules.current().version}): \"end free API access\" "
                  "(plan 'free' removed from every endpoint); applied by: "
                  f"{', '.join(rules.last_applied.running) or 'nobody'}", file=out)
            during = mesh.journeys()
            history = rules.history()
        rec = wait_for_recovery(mesh, {n: o.verdict for n, o in before.items()}, within_s=5.0)
        chaos.close()
    print(f"\n  {'journey':<16} {'before':<8} {'after the push':<14} what the user sees", file=out)
    for name in sorted(during):
        o = during[name]
        print(f"  {name:<16} {before[name].verdict:<8} {o.verdict:<14} {_seen(o)}", file=out)
    when = f"{rec.seconds:.2f} s" if rec.recovered else f"NOT within 5 s ({', '.join(rec.still_off)})"
    print(f"\n  config rolled back; every journey back to its steady state in {when}", file=out)
    return Act(mode, up_s, before, during, rec.seconds if rec.recovered else None, history)


def run_demo(out: TextIO, *, state_dir: Path | None = None, report_dir: Path | None = None) -> int:
    """Run the demo; return 0 when it showed what it exists to show (cascade on brittle, none on resilient)."""
    print("Cascade demo: the March 2023 outage on 'chirp', the bundled miniature social network.\n"
          "A config change meant to end free third-party API access also reaches first-party\n"
          "features that sit behind the same entitlement gate. Same push, two builds of the mesh.\n", file=out)
    acts = []
    for i, mode in enumerate(("brittle", "resilient"), 1):
        print(f"[{i}/2] {mode} mesh" + (" (every resilience knob switched off)" if mode == "brittle" else ""), file=out)
        acts.append(_act(mode, out, state_dir))
        print(file=out)
    brittle, resilient = acts
    print("side by side, after the push:", file=out)
    print(f"  {'journey':<16} {'brittle':<12} resilient", file=out)
    for name in sorted(brittle.during):
        print(f"  {name:<16} {brittle.during[name].verdict:<12} {resilient.during[name].verdict}", file=out)
    broken = sorted(n for n, o in brittle.during.items() if o.verdict not in ("full", "degraded") and n != "thirdparty_free")
    kept = sorted(n for n, o in resilient.during.items() if o.verdict == "full")
    print(f"\n  brittle: {len(broken)} first-party journeys broken by a third-party policy change ({', '.join(broken)})",
          file=out)
    print(f"  resilient: {len(kept)} of {len(resilient.during)} journeys full; only the free third-party tier "
          f"got a clear {resilient.during['thirdparty_free'].status}", file=out)
    path = _write_report(report_dir or Path(".cascade") / "demo" / time.strftime("%Y%m%d-%H%M%S"), acts)
    print(f"\nfull report: {path / 'report.json'}", file=out)
    ok = bool(broken) and resilient.during["thirdparty_free"].verdict == "failed_fast" and \
        all(o.verdict == "full" for n, o in resilient.during.items() if n != "thirdparty_free")
    return 0 if ok else 1


def _write_report(path: Path, acts: list[Act]) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    report = {
        a.mode: {
            "bring_up_s": a.up_s,
            "recovered_s": a.recovered_s,
            "before": {n: o.to_dict() for n, o in a.before.items()},
            "during": {n: o.to_dict() for n, o in a.during.items()},
            "config_history": a.history,
        }
        for a in acts
    }
    (path / "report.json").write_text(json.dumps(report, indent=1))
    return path.resolve()
