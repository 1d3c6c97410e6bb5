"""Runs every benchmark in one go, bounded, and writes bench/results/summary.json and summary.md (target vs measured).

    bench/run [--quick] [--only NAME[,NAME...]] [--budget-s 900]

Each benchmark runs as its own process (as a user would run it) with its own time limit, cut to
what is left of the overall budget; a benchmark that overruns gets SIGINT, so its `with Mesh`
blocks tear down, then SIGKILL. The 1-minute load average is noted before and after each one:
numbers taken on a busy machine say so. `--quick` runs each with few repetitions, to check that
everything works; the numbers in docs/PERFORMANCE.md come from a full run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import RESULTS_DIR  # noqa: E402 - after the path fix

__all__ = ["BENCHMARKS", "Benchmark", "main", "rows_of", "table"]

BUDGET_S = 900.0  # the bound for the whole run: 15 minutes
INTERRUPT_GRACE_S = 30.0  # after SIGINT, how long a benchmark may take to tear its mesh down
MIN_LIMIT_S = 5.0  # a benchmark is not started with less time than this left


@dataclass(frozen=True)
class Benchmark:
    """One benchmark script, its arguments for a full and a quick run, the JSON it writes and its time limit."""

    name: str
    script: str
    full: tuple[str, ...]
    quick: tuple[str, ...]
    result: str
    limit_s: float


BENCHMARKS = (
    Benchmark("mesh", "bench_mesh.py", ("--bringups", "5", "--cycles", "20"), ("--bringups", "2", "--cycles", "3"),
              "mesh", 180),
    Benchmark("inject", "bench_inject.py", (), ("--cycles", "30", "--warmup", "5", "--bringups", "2"), "inject", 180),
    Benchmark("overhead", "bench_overhead.py", (), ("--samples", "30", "--journey-samples", "5"), "overhead", 180),
    Benchmark("http", "bench_http.py", (), ("--cycles", "30", "--warmup", "5", "--bringups", "2"), "http", 240),
    Benchmark("config", "bench_config.py", (), ("--rounds", "5", "--warmup", "1"), "config", 240),
    Benchmark("memory", "bench_memory.py", (), ("--rounds", "3",), "memory", 120),
    Benchmark("compose", "bench_compose.py", (), ("--bringups", "1",), "compose", 300),
    Benchmark("ctk", "bench_ctk.py", (), ("--batch", "2",), "ctk", 420),
    Benchmark("explore", "bench_explore.py", (), ("--budget", "10",), "explore", 180),
    Benchmark("explore-2", "bench_explore.py", ("--workers", "2"), ("--workers", "2", "--budget", "15"),
              "explore-workers-2", 240),
    Benchmark("suite-local", "bench_suite.py", ("--runtime", "local"),
              ("--runtime", "local", "scenarios/test_bad_config.py"), "suite-local", 420),
    Benchmark("suite-compose", "bench_suite.py", ("--runtime", "compose"),
              ("--runtime", "compose", "scenarios/test_bad_config.py"), "suite-compose", 600),
    Benchmark("parallel", "bench_parallel.py", (), ("scenarios/test_bad_config.py",), "parallel", 1200),
)  # fmt: skip


def load_1m() -> float:
    return round(os.getloadavg()[0], 2)


def run_one(b: Benchmark, args: tuple[str, ...], limit_s: float, log: Path) -> tuple[str, float]:
    """Run one benchmark script; its status ('ok', 'failed (exit N)', 'timed out') and its seconds."""
    cmd = [sys.executable, str(ROOT / "bench" / b.script), *args]
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait(timeout=limit_s)
        except subprocess.TimeoutExpired:
            stop(proc)
            return "timed out", time.perf_counter() - t0
    return ("ok" if rc == 0 else f"failed (exit {rc})"), time.perf_counter() - t0


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT to the benchmark's process group (its meshes tear down), SIGKILL if it lingers."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=INTERRUPT_GRACE_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def rows_of(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The table rows of one benchmark's JSON: its `headline`, each targeted median, and explore's rate."""
    if "skipped" in payload:
        return [{"measurement": "skipped", "measured": payload["skipped"], "target": "", "pass": None}]
    rows = list(payload.get("headline", []))
    for name, r in payload.get("results", {}).items():
        if r.get("target_ms") is not None:
            rows.append({"measurement": f"{name} (median of {r['n']})", "measured": f"{r['median_ms']:.2f} ms",
                         "target": f"< {r['target_ms']:g} ms", "pass": r["meets_target"]})
    if "schedules_per_min" in payload:
        meshes = f", {payload['workers']} meshes at once" if payload.get("workers", 1) > 1 else ""
        rows.append({"measurement": f"exploration: fault schedules per minute ({payload['schedules']} in "
                                    f"{payload['seconds']:g} s{meshes})", "measured": f"{payload['schedules_per_min']:.0f}/min",
                     "target": f">= {payload['target_per_min']:g}/min", "pass": payload["meets_target"]})
    return rows


def verdict(passed: bool | None) -> str:
    return {True: "pass", False: "MISS", None: "-"}[passed]


def table(benchmarks: list[dict[str, Any]]) -> str:
    """The markdown table of every row of every benchmark, with the load average it was taken under."""
    lines = ["| benchmark | measurement | measured | target | result | load 1m (before→after) |",
             "| --- | --- | --- | --- | --- | --- |"]
    for b in benchmarks:
        load = f"{b['load_before']:.1f}→{b['load_after']:.1f}"
        rows = b["rows"] or [{"measurement": b["status"], "measured": "", "target": "", "pass": False}]
        for r in rows:
            lines.append(f"| {b['name']} | {r['measurement']} | {r['measured']} | {r['target']} | "
                         f"{verdict(r['pass'])} | {load} |")
    return "\n".join(lines) + "\n"


def machine() -> dict[str, Any]:
    """Cores, RAM, kernel, Python and the toxiproxy-server in use: what PERFORMANCE.md reports."""
    from harness.runtime.provision import describe_toxiproxy

    mem_kb = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal:")), 0)
    return {"cores": os.cpu_count(), "ram_gib": round(mem_kb / 2**20, 1), "kernel": platform.release(),
            "python": platform.python_version(), "toxiproxy": describe_toxiproxy()}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few repetitions each: checks that everything works")
    p.add_argument("--only", default="", help="comma-separated benchmark names: " +
                   ", ".join(b.name for b in BENCHMARKS))
    p.add_argument("--budget-s", type=float, default=BUDGET_S, help=f"bound of the whole run (default {BUDGET_S:g})")
    args = p.parse_args(argv)
    only = [n for n in args.only.split(",") if n]
    unknown = sorted(set(only) - {b.name for b in BENCHMARKS})
    if unknown:
        p.error(f"unknown benchmark {', '.join(unknown)}; benchmarks are: {', '.join(b.name for b in BENCHMARKS)}")
    chosen = [b for b in BENCHMARKS if not only or b.name in only]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + args.budget_s
    done: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    for b in chosen:
        entry: dict[str, Any] = {"name": b.name, "load_before": load_1m(), "rows": []}
        left = deadline - time.monotonic() - INTERRUPT_GRACE_S
        if not (ROOT / "bench" / b.script).exists():
            entry.update(status=f"not run: bench/{b.script} does not exist", seconds=0.0)
        elif left < MIN_LIMIT_S:
            entry.update(status="not run: the run's time budget is spent", seconds=0.0)
        else:
            print(f"== {b.name} (limit {min(b.limit_s, left):.0f} s, load {entry['load_before']:.1f})", flush=True)
            started = time.time()
            log = RESULTS_DIR / f"{b.name}.log"
            status, secs = run_one(b, b.quick if args.quick else b.full, min(b.limit_s, left), log)
            entry.update(status=status, seconds=round(secs, 1), log=str(log))
            result = RESULTS_DIR / f"{b.result}.json"
            if status == "ok" and result.exists() and result.stat().st_mtime >= started:
                entry["rows"] = rows_of(json.loads(result.read_text()))
            elif status == "ok":
                entry["status"] = f"no result: {result} was not written"
        entry["load_after"] = load_1m()
        print(f"   {entry['status']} in {entry['seconds']:.0f} s", flush=True)
        done.append(entry)
    summary = {"quick": args.quick, "machine": machine(), "at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
               "wall_s": round(time.perf_counter() - t_start, 1), "benchmarks": done}
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    md = table(done)
    m = summary["machine"]
    (RESULTS_DIR / "summary.md").write_text(
        f"bench/run{' --quick' if args.quick else ''} at {summary['at']}, {summary['wall_s']:.0f} s; "
        f"{m['cores']} cores, {m['ram_gib']} GiB, Linux {m['kernel']}, Python {m['python']}, "
        f"toxiproxy {m['toxiproxy']}\n\n{md}")
    print("\n" + md)
    print(f"wrote bench/results/summary.json and summary.md in {summary['wall_s']:.0f} s")
    return 0 if all(e["status"] == "ok" for e in done) else 1
