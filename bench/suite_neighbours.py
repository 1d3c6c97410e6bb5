"""The local resilience suite run after run beside a noisy neighbour: does any verdict change?

    python -m bench.suite_neighbours [--runs 5] [--neighbours quiet,cpu,disk] [PYTEST ARGS...]

For each neighbour, the suite (`pytest scenarios -p no:randomly` unless other arguments are
given) runs --runs times in a row, each a new process with a new mesh, while the neighbour runs:

    quiet  nothing else
    cpu    one busy loop per core (os.cpu_count() processes spinning), the whole time
    disk   write 800 MB of zeros to a temporary file, `sync`, delete it, again, the whole time

It prints a line per run (passed, failed, wall seconds) and a summary per neighbour; it exits 1
if any run was not all passed. The neighbours stop when the last run of their row ends, and the
disk neighbour's file is removed. Not part of bench/run: it loads the machine on purpose.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DISK_MB = 800


def _spin(stop: multiprocessing.synchronize.Event) -> None:  # type: ignore[name-defined]
    while not stop.is_set():
        for _ in range(100_000):
            pass


def _flush(stop: multiprocessing.synchronize.Event, folder: str) -> None:  # type: ignore[name-defined]
    path = Path(folder) / "neighbour.bin"
    chunk = b"\0" * (1 << 20)
    while not stop.is_set():
        with open(path, "wb") as f:
            for _ in range(DISK_MB):
                if stop.is_set():
                    break
                f.write(chunk)
        subprocess.run(["sync"], check=False)
        path.unlink(missing_ok=True)


class Neighbour:
    """A neighbour's processes, started for one row of runs and always stopped."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.stop = multiprocessing.Event()
        self.procs: list[multiprocessing.Process] = []
        self.folder = tempfile.mkdtemp(prefix="cascade-neighbour-") if kind == "disk" else ""

    def __enter__(self) -> Neighbour:
        if self.kind == "cpu":
            self.procs = [multiprocessing.Process(target=_spin, args=(self.stop,), daemon=True)
                          for _ in range(os.cpu_count() or 1)]
        elif self.kind == "disk":
            self.procs = [multiprocessing.Process(target=_flush, args=(self.stop, self.folder), daemon=True)]
        for p in self.procs:
            p.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for p in self.procs:
            p.join(timeout=60)
            if p.is_alive():
                p.kill()
        if self.folder:
            shutil.rmtree(self.folder, ignore_errors=True)


def run_suite(pytest_args: list[str]) -> tuple[int, int, float, str]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", *pytest_args], cwd=ROOT, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    seconds = time.monotonic() - started
    out = done.stdout + done.stderr
    passed = sum(int(n) for n in re.findall(r"(\d+) passed", out.splitlines()[-1] if out.strip() else ""))
    failed = sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", out.splitlines()[-1] if out.strip() else ""))
    failures = "\n".join(line for line in out.splitlines() if line.startswith(("FAILED", "ERROR")))
    return passed, failed or (0 if done.returncode == 0 else 1), seconds, failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--neighbours", default="quiet,cpu,disk")
    ap.add_argument("pytest_args", nargs="*", default=["scenarios", "-p", "no:randomly"])
    args = ap.parse_args(argv)
    kinds = [k.strip() for k in args.neighbours.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ("quiet", "cpu", "disk")]
    if bad or args.runs < 1:
        ap.error(f"--neighbours takes quiet, cpu, disk (got {', '.join(bad) or '-'}); --runs >= 1")
    all_ok = True
    summary = []
    for kind in kinds:
        times, green = [], 0
        with Neighbour(kind):
            for i in range(1, args.runs + 1):
                passed, failed, seconds, failures = run_suite(args.pytest_args)
                times.append(seconds)
                ok = failed == 0 and passed > 0
                green += ok
                print(f"{kind:<5} run {i}: {passed} passed, {failed} failed in {seconds:.1f} s"
                      + (f"\n{failures}" if failures else ""), flush=True)
        all_ok &= green == args.runs
        summary.append(f"{kind:<5} {green}/{args.runs} runs all passed; wall s: median {statistics.median(times):.1f}, "
                       f"min {min(times):.1f}, max {max(times):.1f}")
    print("\n" + "\n".join(summary))
    return 0 if all_ok else 1


if __name__ == "__main__":
    sys.exit(main())
