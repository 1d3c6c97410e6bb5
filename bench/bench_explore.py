"""Benchmark of exploration on the bundled mesh, local runtime: fault schedules run per minute.

    .venv/bin/python bench/bench_explore.py [--budget 60] [--mode resilient] [--seed 1]

One schedule is one Hypothesis example: reset, inject and heal up to four faults, judge every
journey after each injection and check recovery at the end. Examples in which Hypothesis drew
no fault at all (nothing but a reset) are timed but not counted as schedules. Prints the
per-example times (median, min, max, p95 in ms) and schedules per minute beside the target,
and writes bench/results/explore.json. Targets are shown, never asserted.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, print_table, summarize, write_json  # noqa: E402 - after the path fix
from harness.explore import Explorer, Progress  # noqa: E402
from harness.mesh import Mesh  # noqa: E402
from harness.topology import load_topology  # noqa: E402

TOPOLOGY = ROOT / "services" / "topology.toml"
TARGET_PER_MIN = 100.0


class ExampleClock:
    """Turns the explorer's progress reports into per-example durations and whether each drew a fault."""

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.faulted: list[bool] = []

    def __call__(self, p: Progress) -> None:
        if p.examples > len(self.starts):
            self.starts.append(p.seconds)
            self.faulted.append(False)
        if p.faults:
            self.faulted[-1] = True

    def durations_ms(self, end_s: float) -> list[float]:
        ends = self.starts[1:] + [end_s]
        return [(b - a) * 1000 for a, b in zip(self.starts, ends)]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0, help="seconds of exploration (default 60)")
    p.add_argument("--mode", default="resilient", help="mode of the mesh (default resilient: no failure stops it)")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        with Mesh(load_topology(TOPOLOGY), mode=args.mode, state_dir=Path(tmp) / "state") as mesh:
            mesh.steady_state()
            clock = ExampleClock()
            # A fresh example database: remembered failures would make the number depend on history.
            result = Explorer(mesh, seed=args.seed, budget_s=args.budget, database_dir=Path(tmp) / "hypothesis",
                              journal_dir=Path(tmp) / "journals", progress=clock).run()
    durations = clock.durations_ms(result.seconds)
    with_faults = [d for d, f in zip(durations, clock.faulted) if f]
    per_min = len(with_faults) / (result.seconds / 60)
    results = {
        "example (any)": summarize(durations),
        "example with >= 1 fault (a schedule)": summarize(with_faults, 60_000 / TARGET_PER_MIN),
    }
    print_table(results)
    print(f"\nschedules per minute: {per_min:.0f} (target >= {TARGET_PER_MIN:.0f}); "
          f"{len(with_faults)} schedules + {len(durations) - len(with_faults)} fault-free examples "
          f"in {result.seconds:.0f} s, failures found: {result.failing_examples}")
    path = write_json("explore", {
        "benchmark": "explore", "topology": str(TOPOLOGY.relative_to(ROOT)), "mode": args.mode, "seed": args.seed,
        "budget_s": args.budget, "seconds": round(result.seconds, 1), "examples": len(durations),
        "schedules": len(with_faults), "schedules_per_min": round(per_min, 1), "target_per_min": TARGET_PER_MIN,
        "meets_target": per_min >= TARGET_PER_MIN, "failing_examples": result.failing_examples,
        "machine": machine(), "results": results,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
