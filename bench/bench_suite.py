"""Benchmark of the resilience suite: its wall time, and the share of it that is harness overhead.

    .venv/bin/python bench/bench_suite.py [--runtime local|compose] [PYTEST_ARGS...]   (default: scenarios)

Runs pytest on the suite in a subprocess, as CI does, with the `bench.suite_timeline` plugin,
which records each test's setup/call/teardown durations and how long any fault was active (from
the test's `chaos` timeline). The faults' active time is the physical floor: a scenario that
holds `Latency` for 2 s cannot take less than 2 s. Two overhead figures are written:

- overhead = (wall - faults' active time) / wall: everything that is not a fault being active,
  the scenarios' own journeys outside faults included (the issue's definition, read against 15 %);
- harness-only = (wall - call phases - recovery) / wall: interpreter and pytest start-up,
  collection, mesh bring-up, baseline, per-test reset and revert, i.e. what a scenario's author
  did not write, minus the recovery: the part of each reset after a fault spent waiting for the
  services to return to their steady state (breakers closing), which is the mesh's own time.

Writes bench/results/suite-<runtime>.json. Targets are shown, never asserted. With the compose
runtime and no Docker engine, it writes the engine's error as the reason it skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import engine_error, machine, write_json  # noqa: E402 - after the path fix

TARGET_SUITE_S = {"local": 180.0, "compose": None}
TARGET_OVERHEAD = 0.15


def run_suite(runtime: str, pytest_args: list[str], out: Path) -> tuple[float, int, str]:
    """Wall seconds, exit code and the last lines of pytest's output for one run of the suite."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "bench.suite_timeline", "-p", "no:randomly",
           "-p", "no:cacheprovider", f"--cascade-runtime={runtime}", *pytest_args]
    env = {**os.environ, "CASCADE_BENCH_SUITE_OUT": str(out)}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    return wall, done.returncode, "\n".join((done.stdout + done.stderr).strip().splitlines()[-5:])


def breakdown(wall: float, tests: dict[str, dict]) -> dict[str, float]:
    """Where the wall time went: faults active, call phases, setup, teardown, and the rest (start-up, collection)."""
    phases = {k: sum(t.get(f"{k}_s", 0.0) for t in tests.values()) for k in ("setup", "call", "teardown")}
    fault = sum(t.get("fault_s", 0.0) for t in tests.values())
    recovery = sum(t.get("reset_after_fault_s", 0.0) for t in tests.values())
    return {
        "wall_s": round(wall, 2), "fault_active_s": round(fault, 2), "setup_s": round(phases["setup"], 2),
        "call_s": round(phases["call"], 2), "teardown_s": round(phases["teardown"], 2),
        "reset_after_fault_s": round(recovery, 2), "startup_and_collection_s": round(wall - sum(phases.values()), 2),
        "overhead_share": round((wall - fault) / wall, 4),
        "harness_only_share": round((wall - phases["call"] - recovery) / wall, 4),
    }  # fmt: skip


def headline(runtime: str, b: dict[str, float], tests: int, failed: int) -> list[dict]:
    """The rows bench/run puts in its table."""
    target_s = TARGET_SUITE_S[runtime]
    return [
        {"measurement": f"resilience suite wall time, {runtime} ({tests} tests, {failed} failed)",
         "measured": f"{b['wall_s']:.1f} s", "target": f"< {target_s:g} s" if target_s else "",
         "pass": (b["wall_s"] < target_s and not failed) if target_s else None},
        {"measurement": f"suite time outside the faults' active time, {runtime} (faults active {b['fault_active_s']:.1f} s)",
         "measured": f"{b['overhead_share']:.0%}", "target": f"< {TARGET_OVERHEAD:.0%}",
         "pass": b["overhead_share"] < TARGET_OVERHEAD},
        {"measurement": f"suite time in the harness alone (start-up, bring-up, baseline, reset and revert; not the "
                        f"scenarios' bodies, not the mesh's {b['reset_after_fault_s']:.1f} s recovering after faults), "
                        f"{runtime}",
         "measured": f"{b['harness_only_share']:.0%}", "target": "", "pass": None},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runtime", choices=("local", "compose"), default="local")
    args, pytest_args = p.parse_known_args(argv)
    pytest_args = pytest_args or ["scenarios"]
    name = f"suite-{args.runtime}"
    why = engine_error() if args.runtime == "compose" else ""
    if why:
        print(f"SKIPPED: {why}")
        write_json(name, {"benchmark": name, "skipped": why, "machine": machine()})
        return 0
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        out = Path(tmp) / "timeline.json"
        wall, rc, tail = run_suite(args.runtime, pytest_args, out)
        if not out.exists():
            print(f"the suite did not finish (exit {rc}):\n{tail}", file=sys.stderr)
            return 1
        tests = json.loads(out.read_text())["tests"]
    failed = sorted(n for n, t in tests.items() if t["outcome"] == "failed")
    b = breakdown(wall, tests)
    for k, v in b.items():
        print(f"{k:<26} {v:.0%}" if k.endswith("share") else f"{k:<26} {v:8.2f}")
    print(tail)
    path = write_json(name, {
        "benchmark": name, "runtime": args.runtime, "pytest_args": pytest_args, "exit_code": rc,
        "machine": machine(), "tests": len(tests), "failed": failed, "breakdown": b,
        "per_test": tests, "headline": headline(args.runtime, b, len(tests), len(failed)),
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
