"""Benchmark: the resilience suite serial, with `-n 2`, and as 2 shards one after the other, local and compose.

    .venv/bin/python bench/bench_parallel.py [--runtimes local,compose] [--workers 2] [--shards 2] [PYTEST_ARGS...]

Every run is `pytest scenarios` in a subprocess, as CI runs it (pytest-randomly off, so the
runs see the same order). For each runtime, in one go:

- serial: the whole suite on one mesh;
- `-n W`: pytest-xdist, W workers, each with its own mesh (a compose project each on compose);
- S shards (`--cascade-shard K/S`) run one after the other: their sum (one runner doing all of
  them) and their maximum (what a CI matrix of S runners waits for), balanced by count (no
  durations file is read: `--cascade-durations` points at a path that does not exist).

Every run must pass the same tests as the serial one (the verdicts are compared per test id);
a run that does not is reported as failed, with its differences. Targets (issue #23): the
parallel local suite under 45 s and the parallel compose suite under 55 s on this machine.
Writes bench/results/parallel.json. Targets are shown, never asserted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import engine_error, machine, write_json  # noqa: E402 - after the path fix

TARGET_PARALLEL_S = {"local": 45.0, "compose": 55.0}


def run(runtime: str, extra: list[str], pytest_args: list[str], junit: Path) -> tuple[float, int, dict[str, str]]:
    """Wall seconds, exit code and each test's outcome for one pytest run."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
           f"--cascade-runtime={runtime}", f"--junitxml={junit}", *extra, *pytest_args]
    env = {**os.environ, **({"CASCADE_COMPOSE": os.environ.get("CASCADE_COMPOSE", "v2")} if runtime == "compose" else {})}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    return wall, done.returncode, outcomes(junit) if junit.exists() else {}


def outcomes(junit: Path) -> dict[str, str]:
    out = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        kinds = {child.tag for child in case}
        outcome = "failed" if kinds & {"failure", "error"} else "skipped" if "skipped" in kinds else "passed"
        out[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return out


def measure(runtime: str, workers: int, shards: int, pytest_args: list[str], tmp: Path,
            log=print) -> dict:
    """The runtime's four figures, with each run's verdicts compared to the serial run's."""
    runs: dict[str, dict] = {}
    plan = [("serial", []), (f"-n {workers}", ["-n", str(workers)]),
            *((f"shard {k}/{shards}", [f"--cascade-shard={k}/{shards}",
                                      f"--cascade-durations={tmp / 'no-durations.json'}"]) for k in range(1, shards + 1))]
    for label, extra in plan:
        junit = tmp / f"{runtime}-{label.replace(' ', '').replace('/', 'of')}.xml"
        wall, rc, verdicts = run(runtime, extra, pytest_args, junit)
        runs[label] = {"wall_s": round(wall, 2), "exit_code": rc, "tests": len(verdicts),
                       "failed": sorted(t for t, o in verdicts.items() if o == "failed"), "verdicts": verdicts}
        log(f"  {runtime:<8} {label:<10} {wall:7.1f} s  exit {rc}  {len(verdicts)} tests, "
            f"{len(runs[label]['failed'])} failed")
    serial = runs["serial"]["verdicts"]
    shard_verdicts = {t: o for k in range(1, shards + 1) for t, o in runs[f"shard {k}/{shards}"]["verdicts"].items()}
    same = {
        f"-n {workers}": runs[f"-n {workers}"]["verdicts"] == serial,
        f"{shards} shards": shard_verdicts == serial
        and sum(runs[f"shard {k}/{shards}"]["tests"] for k in range(1, shards + 1)) == len(serial),
    }
    walls = [runs[f"shard {k}/{shards}"]["wall_s"] for k in range(1, shards + 1)]
    return {"runs": runs, "same_verdicts_as_serial": same, "shards_sum_s": round(sum(walls), 2),
            "shards_max_s": round(max(walls), 2)}


def headline(runtime: str, r: dict, workers: int, shards: int) -> list[dict]:
    runs = r["runs"]
    serial_ok = runs["serial"]["exit_code"] == 0
    par = runs[f"-n {workers}"]
    target = TARGET_PARALLEL_S[runtime]
    return [
        {"measurement": f"suite {runtime}, serial ({runs['serial']['tests']} tests, "
                        f"{len(runs['serial']['failed'])} failed)",
         "measured": f"{runs['serial']['wall_s']:.1f} s", "target": "", "pass": None if serial_ok else False},
        {"measurement": f"suite {runtime}, -n {workers} (same verdicts as serial: "
                        f"{'yes' if r['same_verdicts_as_serial'][f'-n {workers}'] else 'NO'})",
         "measured": f"{par['wall_s']:.1f} s", "target": f"< {target:g} s",
         "pass": par["wall_s"] < target and par["exit_code"] == 0 and r["same_verdicts_as_serial"][f"-n {workers}"]},
        {"measurement": f"suite {runtime}, {shards} shards one after the other: sum (one runner) / max (a matrix) "
                        f"(same verdicts as serial: {'yes' if r['same_verdicts_as_serial'][f'{shards} shards'] else 'NO'})",
         "measured": f"{r['shards_sum_s']:.1f} s / {r['shards_max_s']:.1f} s", "target": "",
         "pass": None if r["same_verdicts_as_serial"][f"{shards} shards"] else False},
    ]  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runtimes", default="local,compose")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--shards", type=int, default=2)
    args, pytest_args = p.parse_known_args(argv)
    pytest_args = pytest_args or ["scenarios"]
    results: dict[str, dict] = {}
    rows: list[dict] = []
    skipped: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-parallel-") as tmp:
        for runtime in [r for r in args.runtimes.split(",") if r]:
            why = engine_error() if runtime == "compose" else ""
            if why:
                skipped[runtime] = why
                print(f"{runtime}: SKIPPED: {why}")
                continue
            results[runtime] = measure(runtime, args.workers, args.shards, pytest_args, Path(tmp))
            rows += headline(runtime, results[runtime], args.workers, args.shards)
    for row in rows:
        print(f"{row['measurement']}: {row['measured']} {row['target']}")
    path = write_json("parallel", {
        "benchmark": "parallel", "pytest_args": pytest_args, "workers": args.workers, "shards": args.shards,
        "machine": machine(), "results": results, "skipped": skipped, "headline": rows,
    })  # fmt: skip
    print(f"written: {path}")
    return 0 if all(r["runs"]["serial"]["exit_code"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
