"""Benchmark of the bundled mesh on Docker Compose vs local processes: bring-up to all-healthy, teardown, the ratio.

    .venv/bin/python bench/bench_compose.py [--bringups 3]

Alternates local and compose cold bring-ups of the same topology (so both see the same machine
load), each followed by a timed teardown. The images must be built (docker/build-images.sh);
with no engine the benchmark writes the engine's error as the reason it skipped and exits 0.
Writes bench/results/compose.json. Targets are shown, never asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import engine_error, machine, print_table, summarize, write_json  # noqa: E402 - after the path fix
from harness.mesh import Mesh  # noqa: E402
from harness.topology import load_topology  # noqa: E402

TOPOLOGY = ROOT / "services" / "topology.toml"


def up_and_down(runtime: str, state_dir: Path) -> tuple[float, float]:
    """Milliseconds to bring the mesh up to all-healthy on `runtime`, and to tear it down again."""
    mesh = Mesh(load_topology(TOPOLOGY), runtime=runtime, state_dir=state_dir)
    t0 = time.perf_counter()
    try:
        mesh.start()
        t1 = time.perf_counter()
    finally:
        t_stop = time.perf_counter()
        mesh.stop()
    return (t1 - t0) * 1000, (time.perf_counter() - t_stop) * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bringups", type=int, default=3, help="bring-ups per runtime (default 3)")
    args = p.parse_args(argv)
    why = engine_error()
    if why:
        print(f"SKIPPED: {why}")
        write_json("compose", {"benchmark": "compose", "skipped": why, "machine": machine()})
        return 0
    samples: dict[str, dict[str, list[float]]] = {r: {"up": [], "down": []} for r in ("local", "compose")}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        for i in range(args.bringups):
            for runtime in ("local", "compose"):
                up, down = up_and_down(runtime, Path(tmp) / f"{runtime}{i}")
                samples[runtime]["up"].append(up)
                samples[runtime]["down"].append(down)
    results = {f"{what} ({runtime})": summarize(s[what]) for runtime, s in samples.items() for what in ("up", "down")}
    print_table(results)
    ratio_up = statistics.median(samples["local"]["up"]) / statistics.median(samples["compose"]["up"])
    ratio_down = statistics.median(samples["local"]["down"]) / statistics.median(samples["compose"]["down"])
    print(f"\nlocal / compose: bring-up {ratio_up:.3f}, teardown {ratio_down:.3f}")
    headline = [
        {"measurement": "compose bring-up to all-healthy (bundled mesh)",
         "measured": f"{results['up (compose)']['median_ms'] / 1000:.2f} s", "target": "", "pass": None},
        {"measurement": "compose teardown", "measured": f"{results['down (compose)']['median_ms'] / 1000:.2f} s",
         "target": "", "pass": None},
        {"measurement": "bring-up ratio local / compose (same run, alternated)", "measured": f"{ratio_up:.3f}",
         "target": "", "pass": None},
    ]
    path = write_json("compose", {
        "benchmark": "compose", "topology": str(TOPOLOGY.relative_to(ROOT)), "bringups": args.bringups,
        "machine": machine(), "ratio_local_over_compose_up": round(ratio_up, 4),
        "ratio_local_over_compose_down": round(ratio_down, 4), "results": results, "headline": headline,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
