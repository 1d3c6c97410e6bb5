"""Benchmark of memory: peak RSS of the harness process and of the whole local mesh (every process it started).

    .venv/bin/python bench/bench_memory.py [--rounds 20]

The mesh is brought up, its steady state measured, then `--rounds` rounds of every journey
with a fault injected and reverted each round (the per-test work of a suite). The mesh's
footprint is read from /proc: for toxiproxy, redis and each service, and every descendant
of those, VmHWM (the kernel's peak resident set of that process) and VmRSS (now), summed.
The harness's own peak is `getrusage(RUSAGE_SELF).ru_maxrss`. Writes bench/results/memory.json.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, write_json  # noqa: E402 - after the path fix
from harness.chaos import Chaos  # noqa: E402
from harness.faults import Latency  # noqa: E402
from harness.mesh import Mesh  # noqa: E402
from harness.topology import load_topology  # noqa: E402

TOPOLOGY = ROOT / "services" / "topology.toml"


def status_kb(pid: int, field: str) -> int:
    """One `kB` field of /proc/<pid>/status (0 if the process is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def descendants(roots: list[int]) -> list[int]:
    """`roots` and every process descending from them, from the parent pids in /proc/<pid>/stat."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], list(roots)
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def mesh_memory(mesh: Mesh) -> dict[str, dict[str, int]]:
    """Per process of the mesh (with its descendants): peak and current RSS in kB."""
    out = {}
    for name in ["toxiproxy", *sorted(mesh.topology.services)]:
        pid = mesh.runtime.pid(name)
        if pid is None:
            continue
        tree = descendants([pid])
        out[name] = {"peak_rss_kb": sum(status_kb(p, "VmHWM") for p in tree),
                     "rss_kb": sum(status_kb(p, "VmRSS") for p in tree), "processes": len(tree)}
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=20, help="rounds of every journey under a fault (default 20)")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        with Mesh(load_topology(TOPOLOGY), state_dir=Path(tmp) / "state") as mesh:
            mesh.steady_state()
            for _ in range(args.rounds):
                chaos = Chaos(mesh)
                with chaos.inject(Latency("timeline->media", ms=20)):
                    mesh.journeys()
                chaos.close()
                mesh.reset()
            procs = mesh_memory(mesh)
    harness_peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    mesh_peak_kb = sum(p["peak_rss_kb"] for p in procs.values())
    mesh_now_kb = sum(p["rss_kb"] for p in procs.values())
    print(f"{'process':<12} {'peak MiB':>9} {'now MiB':>8} {'procs':>6}")
    for name, m in procs.items():
        print(f"{name:<12} {m['peak_rss_kb'] / 1024:>9.1f} {m['rss_kb'] / 1024:>8.1f} {m['processes']:>6}")
    print(f"{'mesh total':<12} {mesh_peak_kb / 1024:>9.1f} {mesh_now_kb / 1024:>8.1f}")
    print(f"harness process peak RSS: {harness_peak_kb / 1024:.1f} MiB")
    headline = [
        {"measurement": "peak RSS, harness process", "measured": f"{harness_peak_kb / 1024:.1f} MiB",
         "target": "", "pass": None},
        {"measurement": f"peak RSS, whole local mesh ({sum(p['processes'] for p in procs.values())} processes, "
                        "sum of per-process peaks)", "measured": f"{mesh_peak_kb / 1024:.1f} MiB", "target": "",
         "pass": None},
    ]
    path = write_json("memory", {
        "benchmark": "memory", "rounds": args.rounds, "machine": machine(), "harness_peak_rss_kb": harness_peak_kb,
        "mesh_peak_rss_kb": mesh_peak_kb, "mesh_rss_kb": mesh_now_kb, "processes": procs, "headline": headline,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
