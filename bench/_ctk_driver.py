"""Runs one Chaos Toolkit experiment N times in this process with chaoslib; prints each run's seconds and status as JSON.

    .cascade/bench-venv-ctk/bin/python bench/_ctk_driver.py EXPERIMENT.json N

Run by bench_ctk.py with the Chaos Toolkit venv's interpreter (it imports chaoslib, never the
harness): the library path of the peer, without the `chaos` CLI's interpreter start-up. Each
run validates the experiment first, as `chaos run` does.
"""

from __future__ import annotations

import json
import sys
import time

from chaoslib.experiment import ensure_experiment_is_valid, run_experiment


def main() -> int:
    path, count = sys.argv[1], int(sys.argv[2])
    with open(path) as f:
        text = f.read()
    runs = []
    for _ in range(count):
        t0 = time.perf_counter()
        experiment = json.loads(text)  # a fresh document each run: running one annotates it
        ensure_experiment_is_valid(experiment)
        journal = run_experiment(experiment, settings={})
        runs.append({"s": time.perf_counter() - t0, "status": journal["status"], "deviated": journal["deviated"]})
    print(json.dumps(runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
