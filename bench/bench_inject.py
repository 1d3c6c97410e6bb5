"""Benchmark of the per-test costs of chaos on the fixture mesh: inject+revert, reset, and cold bring-up.

    .venv/bin/python bench/bench_inject.py [--cycles 200] [--warmup 20] [--bringups 5]

Prints a table (median, min, max, p95 in ms, each beside its target) and writes
bench/results/inject.json. Targets are shown, never asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, print_table, summarize, time_ms, write_json  # noqa: E402 - after the path fix
from harness.chaos import Chaos  # noqa: E402
from harness.faults import Down, Latency  # noqa: E402
from harness.mesh import Mesh  # noqa: E402
from harness.topology import load_topology  # noqa: E402

MINI = ROOT / "tests" / "fixtures" / "mini" / "topology.toml"
EDGE = "front->back"
TARGETS_MS = {"inject+revert": 20.0, "reset": 100.0, "bring-up": 2000.0}


def inject_cycle(mesh: Mesh, fault: object) -> None:
    """One `with chaos.inject(fault): pass` on a fresh Chaos, as a test would write it (verified both ways)."""
    chaos = Chaos(mesh, observe=False)
    with chaos.inject(fault):
        pass
    chaos.close()


def cold_bring_up(state_dir: Path) -> float:
    """Milliseconds from nothing running to every service of the fixture mesh healthy (teardown not timed)."""
    start = time.perf_counter()
    mesh = Mesh(load_topology(MINI), state_dir=state_dir).start()
    elapsed = (time.perf_counter() - start) * 1000
    mesh.stop()
    return elapsed


def main(argv: list[str] | None = None) -> int:
    """Run every measurement, print the table, write the JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cycles", type=int, default=200, help="timed cycles per measurement (default 200)")
    ap.add_argument("--warmup", type=int, default=20, help="untimed cycles first (default 20)")
    ap.add_argument("--bringups", type=int, default=5, help="cold bring-ups of the fixture mesh (default 5)")
    args = ap.parse_args(argv)

    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        with Mesh(load_topology(MINI), state_dir=Path(tmp) / "state") as mesh:
            toxiproxy_version = mesh.toxiproxy.version()
            runs = {
                "inject+revert Latency(ms=100)": (lambda: inject_cycle(mesh, Latency(EDGE, ms=100)), "inject+revert"),
                "inject+revert Down": (lambda: inject_cycle(mesh, Down(EDGE)), "inject+revert"),
                "mesh.reset()": (mesh.reset, "reset"),
            }
            for name, (fn, target) in runs.items():
                samples = time_ms(fn, cycles=args.cycles, warmup=args.warmup)
                results[name] = summarize(samples, TARGETS_MS[target])
            mesh.reset()
        # Each bring-up gets a fresh state dir: a cold start leases ports and writes its run record anew.
        ups = [cold_bring_up(Path(tmp) / f"cold{i}") for i in range(args.bringups)]
        results["cold bring-up (fixture mesh)"] = summarize(ups, TARGETS_MS["bring-up"])

    print_table(results)
    path = write_json("inject", {
        "benchmark": "inject",
        "topology": str(MINI.relative_to(ROOT)),
        "cycles": args.cycles,
        "warmup": args.warmup,
        "bringups": args.bringups,
        "toxiproxy": toxiproxy_version,
        "machine": machine(),
        "results": results,
    })
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
