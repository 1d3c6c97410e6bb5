"""Benchmark of exploration on the bundled mesh, local runtime: fault schedules run per minute.

    .venv/bin/python bench/bench_explore.py [--budget 60] [--mode resilient] [--seed 1] [--workers 1]

One schedule is one Hypothesis example: reset, inject and heal up to four faults, judge every
journey after each injection and check recovery at the end. Examples in which Hypothesis drew
no fault at all (nothing but a reset) are timed but not counted as schedules. Prints the
per-example times (median, min, max, p95 in ms) and schedules per minute beside the target,
and writes bench/results/explore.json (explore-workers-N.json with --workers N > 1). Targets
are shown, never asserted.

With one worker the minute is the explorer's own time (the mesh is up before it starts). With
--workers N, N meshes are explored at once (harness.explore.pool) and the minute is the whole
run's wall time, their bring-up included; the last example of each worker is not timed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, print_table, summarize, write_json  # noqa: E402 - after the path fix
from harness.explore.explorer import Progress  # noqa: E402
from harness.explore.pool import ExploreSpec, explore  # noqa: E402

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

    def durations_ms(self, end_s: float | None) -> list[float]:
        """Each example's duration; the last one's only if its end `end_s` is known."""
        ends = self.starts[1:] + ([end_s] if end_s is not None else [])
        return [(b - a) * 1000 for a, b in zip(self.starts, ends)]

    def schedules(self) -> int:
        return sum(self.faulted)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--budget", type=float, default=60.0, help="seconds of exploration (default 60)")
    p.add_argument("--mode", default="resilient", help="mode of the mesh (default resilient: no failure stops it)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workers", type=int, default=1, help="meshes explored at once (default 1)")
    args = p.parse_args(argv)
    clocks: dict[int, ExampleClock] = {}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        # A fresh example database: remembered failures would make the number depend on history.
        spec = ExploreSpec(str(TOPOLOGY), args.budget, args.seed, mode=args.mode, database_dir=Path(tmp) / "hypothesis",
                           journal_dir=Path(tmp) / "journals", state_dir=Path(tmp) / "state")
        result = explore(spec, workers=args.workers,
                         worker_progress=lambda w, p: clocks.setdefault(w, ExampleClock())(p))
    end = result.seconds if args.workers == 1 else None
    durations = [d for c in clocks.values() for d in c.durations_ms(end)]
    with_faults = [d for c in clocks.values() for d, f in zip(c.durations_ms(end), c.faulted) if f]
    schedules = sum(c.schedules() for c in clocks.values())
    per_min = schedules / (result.seconds / 60)
    results = {
        "example (any)": summarize(durations),
        "example with >= 1 fault (a schedule)": summarize(with_faults, 60_000 / TARGET_PER_MIN),
    }
    print_table(results)
    meshes = f" on {args.workers} meshes at once, their bring-up included" if args.workers > 1 else ""
    print(f"\nschedules per minute: {per_min:.0f} (target >= {TARGET_PER_MIN:.0f}); "
          f"{schedules} schedules + {result.examples - schedules} fault-free examples "
          f"in {result.seconds:.0f} s{meshes}, failures found: {result.failing_examples}")
    path = write_json("explore" if args.workers == 1 else f"explore-workers-{args.workers}", {
        "benchmark": "explore", "topology": str(TOPOLOGY.relative_to(ROOT)), "mode": args.mode, "seed": args.seed,
        "workers": args.workers, "budget_s": args.budget, "seconds": round(result.seconds, 1), "examples": result.examples,
        "schedules": schedules, "schedules_per_min": round(per_min, 1), "target_per_min": TARGET_PER_MIN,
        "meets_target": per_min >= TARGET_PER_MIN, "failing_examples": result.failing_examples,
        "machine": machine(), "results": results,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
