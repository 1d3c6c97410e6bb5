"""Benchmark of the bundled mesh on the local runtime: cold bring-up, reset after a fault, a config push + restore.

    .venv/bin/python bench/bench_mesh.py [--bringups 5] [--cycles 20]

Prints median, min, max and p95 in ms beside each target and writes bench/results/mesh.json.
Targets are shown, never asserted: this is a benchmark, not a test.
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
from harness.faults import BadConfig, Latency  # noqa: E402
from harness.mesh import Mesh  # noqa: E402
from harness.topology import load_topology  # noqa: E402

TOPOLOGY = ROOT / "services" / "topology.toml"
TARGETS_MS = {"bring-up": 2500.0, "reset": 100.0, "config push+restore": None}


def cold_bring_up(state_dir: Path) -> float:
    """Milliseconds from nothing running to redis, 7 services, toxiproxy and 16 proxies all healthy."""
    t0 = time.perf_counter()
    mesh = Mesh(load_topology(TOPOLOGY), state_dir=state_dir).start()
    took = (time.perf_counter() - t0) * 1000
    mesh.stop()
    time.sleep(0.5)  # let the machine settle between runs, as between two developer commands
    return took


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bringups", type=int, default=5)
    p.add_argument("--cycles", type=int, default=20)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        ups = [cold_bring_up(state) for _ in range(args.bringups)]
        with Mesh(load_topology(TOPOLOGY), state_dir=state) as mesh:
            mesh.steady_state()

            def faulted_reset() -> None:
                chaos = Chaos(mesh, observe=False)
                with chaos.inject(Latency("timeline->media", ms=50)):
                    pass
                chaos.close()
                mesh.reset()

            resets = time_ms(mesh.reset, cycles=args.cycles * 5, warmup=5)
            settle = time_ms(faulted_reset, cycles=args.cycles, warmup=2)

            def push_restore() -> None:
                chaos = Chaos(mesh, observe=False)
                with chaos.inject(BadConfig(patch={"features.media_previews": False})):
                    pass
                chaos.close()

            pushes = time_ms(push_restore, cycles=args.cycles, warmup=2)
    results = {
        "cold bring-up (bundled mesh)": summarize(ups, TARGETS_MS["bring-up"]),
        "reset (no fault since last)": summarize(resets, TARGETS_MS["reset"]),
        "inject+revert Latency, then reset (settles)": summarize(settle),
        "config push+restore (verified)": summarize(pushes),
    }
    print_table(results)
    # Rows without a target, for bench/run's table (the targeted ones it reads from `results`).
    headline = [{"measurement": f"{name} (median of {results[name]['n']})",
                 "measured": f"{results[name]['median_ms']:.2f} ms", "target": "", "pass": None}
                for name in ("config push+restore (verified)", "inject+revert Latency, then reset (settles)")]
    path = write_json("mesh", {"machine": machine(), "results": results, "headline": headline})
    print(f"\nwritten: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
