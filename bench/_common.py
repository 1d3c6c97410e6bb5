"""Shared pieces of the benchmarks: timing loops, summary statistics, the results table and JSON output."""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

# CASCADE_BENCH_RESULTS moves every result elsewhere (the test of bench/run keeps the real ones intact).
RESULTS_DIR = Path(os.environ.get("CASCADE_BENCH_RESULTS") or Path(__file__).parent / "results")


def time_ms(fn: Callable[[], Any], *, cycles: int, warmup: int = 0) -> list[float]:
    """Wall-clock milliseconds of `cycles` calls of `fn`, after `warmup` untimed calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(cycles):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100): a value that was really measured, never an interpolation."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def summarize(samples: list[float], target_ms: float | None = None) -> dict[str, Any]:
    """Median, min, max and p95 in ms, the sample count and the target the number is read against."""
    return {
        "n": len(samples),
        "median_ms": round(statistics.median(samples), 3),
        "min_ms": round(min(samples), 3),
        "max_ms": round(max(samples), 3),
        "p95_ms": round(percentile(samples, 95), 3),
        "target_ms": target_ms,
        "meets_target": None if target_ms is None else statistics.median(samples) < target_ms,
    }


def print_table(results: dict[str, dict[str, Any]], out=sys.stdout) -> None:
    """One row per measurement; the target is shown beside it, never asserted."""
    w = max([len("measurement"), *map(len, results)])
    head = f"{'measurement':<{w}} {'n':>4} {'median':>9} {'min':>9} {'max':>9} {'p95':>9}   target (median)"
    print(head, file=out)
    print("-" * len(head), file=out)
    for name, r in results.items():
        target = "" if r["target_ms"] is None else (
            f"< {r['target_ms']:g} ms  {'ok' if r['meets_target'] else 'MISSED'}")
        print(f"{name:<{w}} {r['n']:>4} {r['median_ms']:>9.2f} {r['min_ms']:>9.2f} {r['max_ms']:>9.2f} "
              f"{r['p95_ms']:>9.2f}   {target}", file=out)
    print("(all times in ms)", file=out)


def machine() -> dict[str, Any]:
    """What the numbers were measured on, so two result files can be compared honestly."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "load_avg_1m": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(name: str, payload: dict[str, Any]) -> Path:
    """Write `payload` to bench/results/<name>.json (the directory is created) and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path


def engine_error() -> str:
    """Why no Docker engine can be used here, in the engine's own words ('' when `docker info` answers)."""
    if not shutil.which("docker"):
        return "no docker client on PATH; run docker/engine.sh"
    try:
        info = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "docker info did not answer within 30 s; run docker/engine.sh"
    if info.returncode != 0:
        return "docker info failed: " + " ".join((info.stderr or info.stdout).split())[:400]
    return ""
