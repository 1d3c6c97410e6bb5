"""Benchmark against the peer: one experiment run with Chaos Toolkit + chaostoolkit-toxiproxy vs the same with Cascade.

    .venv/bin/python bench/bench_ctk.py [--batch 20] [--ms 100]

The experiment, on the bundled mesh's `image` journey (gateway -> media, one hop):
baseline probe of the journey, a latency toxic on `gateway->media`, the probe again, rollback
(the toxic removed), and, as Chaos Toolkit's steady-state hypothesis does, the probe once more.

- Chaos Toolkit: chaostoolkit and chaostoolkit-toxiproxy in their own venv (.cascade/bench-venv-ctk,
  made here from requirements.lock's `ctk` subset, so the harness's dependencies stay clean and the
  peer's versions are as locked as ours),
  a JSON experiment (HTTP probe with tolerance 200, `chaostoxi.toxic.actions.create_latency_toxic`,
  rollback `delete_toxic`) pointed at the mesh's own Toxiproxy. Measured two ways: `chaos run`
  once per experiment (how it is used; each run is a new process), and chaoslib's
  `run_experiment` called N times in one process (the library alone, no interpreter start-up).
- Cascade: `Chaos(mesh)` with `mesh.journey("image")` before, inside and after
  `chaos.inject(Latency(...))`, measured two ways: as the pytest fixtures run it (observing
  chaos, which sweeps every journey during the fault, then `mesh.reset()` waiting for the mesh
  to settle) and bare (no observation, no reset): the equivalent of the peer's experiment, and
  the pair the 5x target is read on.

Every run is checked: Chaos Toolkit's journal must say `completed`, and after every run of
either tool the proxy must have no toxic left. Both run against the same mesh, started once
in this process. Writes bench/results/ctk.json. Targets are shown, never asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, print_table, summarize, write_json  # noqa: E402 - after the path fix
from harness.chaos import Chaos  # noqa: E402
from harness.faults import Latency  # noqa: E402
from harness.mesh import Mesh  # noqa: E402
from harness.topology import load_topology  # noqa: E402

TOPOLOGY = ROOT / "services" / "topology.toml"
VENV = ROOT / ".cascade" / "bench-venv-ctk"
PACKAGES = ("chaostoolkit", "chaostoolkit-toxiproxy")
JOURNEY, EDGE = "image", "gateway->media"
TOXIC = "cascade-bench-latency"
TARGET_SPEEDUP = 5.0


def ensure_venv() -> Path:
    """The Chaos Toolkit venv's python, installed from requirements.lock's `ctk` subset (hash-checked, exact)."""
    import hashlib

    python = VENV / "bin" / "python"
    pins = subprocess.run([sys.executable, str(ROOT / "harness" / "lockfile.py"), "select", "ctk"],
                          capture_output=True, text=True, check=True).stdout
    stamp, want = VENV / ".cascade-lock", hashlib.sha256(pins.encode()).hexdigest()
    if not python.exists() or not stamp.exists() or stamp.read_text() != want:
        uv = Path(sys.executable).parent / "uv"  # the locked uv, installed by scripts/bootstrap
        print(f"installing {' and '.join(PACKAGES)} into {VENV.relative_to(ROOT)} from requirements.lock", flush=True)
        subprocess.run([str(uv), "venv", "-q", "--allow-existing", "--python", sys.executable, str(VENV)], check=True)
        with tempfile.NamedTemporaryFile("w", suffix=".txt") as f:
            f.write(pins)
            f.flush()
            subprocess.run([str(uv), "pip", "sync", "-q", "--compile-bytecode", "--python", str(python), "--require-hashes", f.name],
                           check=True)
        stamp.write_text(want)
    return python


def experiment(mesh: Mesh, ms: int) -> dict:
    """The Chaos Toolkit experiment: probe, latency toxic on the edge, probe, rollback; the hypothesis probes twice."""
    j = mesh.topology.journey(JOURNEY)
    host, port = mesh.address(j.service)
    tp = mesh.toxiproxy.url.removeprefix("http://")
    probe = {
        "type": "probe", "name": f"journey-{JOURNEY}", "tolerance": 200,
        "provider": {"type": "http", "url": f"http://{host}:{port}{j.path}", "method": j.method,
                     "headers": dict(j.headers), "timeout": 5},
    }  # fmt: skip
    toxic_args = {"for_proxy": EDGE, "toxic_name": TOXIC}
    return {
        "version": "1.0.0",
        "title": f"the {JOURNEY} journey with {ms} ms of latency on {EDGE}",
        "description": "Cascade's benchmark against the peer; see bench/bench_ctk.py",
        "configuration": {"toxiproxy_host": tp.split(":")[0], "toxiproxy_port": int(tp.split(":")[1])},
        "steady-state-hypothesis": {"title": "the journey answers 200", "probes": [probe]},
        "method": [
            {"type": "action", "name": "add-latency", "provider": {
                "type": "python", "module": "chaostoxi.toxic.actions", "func": "create_latency_toxic",
                "arguments": {**toxic_args, "latency": ms}}},
            {**probe, "name": f"journey-{JOURNEY}-during"},
        ],
        "rollbacks": [{"type": "action", "name": "remove-latency", "provider": {
            "type": "python", "module": "chaostoxi.toxic.actions", "func": "delete_toxic", "arguments": toxic_args}}],
    }  # fmt: skip


def check_clean(mesh: Mesh, who: str) -> None:
    """Fail the benchmark if a run left its toxic behind: a rollback that did not happen is not a faster run."""
    left = mesh.toxiproxy.toxics(EDGE)
    if left:
        raise SystemExit(f"{who} left toxics on {EDGE}: {[t.name for t in left]}")


def ctk_cli(mesh: Mesh, python: Path, exp: Path, journals: Path, batch: int) -> list[float]:
    """Seconds of each `chaos run` of the experiment, one process per run, as a user runs it."""
    chaos_bin = python.parent / "chaos"
    times = []
    for i in range(batch):
        journal = journals / f"journal-{i}.json"
        t0 = time.perf_counter()
        done = subprocess.run(
            [str(chaos_bin), "--no-version-check", "--no-log-file", "--settings", str(journals / "settings.yaml"),
             "run", "--journal-path", str(journal), str(exp)],
            capture_output=True, text=True, cwd=journals)  # fmt: skip
        times.append(time.perf_counter() - t0)
        status = json.loads(journal.read_text())["status"] if journal.exists() else "no journal"
        if done.returncode != 0 or status != "completed":
            raise SystemExit(f"chaos run failed ({status}, exit {done.returncode}): {done.stderr[-800:]}")
        check_clean(mesh, "chaos run")
    return times


def ctk_library(mesh: Mesh, python: Path, exp: Path, batch: int) -> list[float]:
    """Seconds of each of `batch` chaoslib.run_experiment calls in one process."""
    done = subprocess.run([str(python), str(ROOT / "bench" / "_ctk_driver.py"), str(exp), str(batch)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"chaoslib driver failed: {done.stderr[-800:]}")
    runs = json.loads(done.stdout.strip().splitlines()[-1])
    bad = [r for r in runs if r["status"] != "completed"]
    if bad:
        raise SystemExit(f"chaoslib runs did not complete: {bad}")
    check_clean(mesh, "chaoslib")
    return [r["s"] for r in runs]


def cascade_run(mesh: Mesh, ms: int, *, as_fixture: bool) -> None:
    """The same experiment in Cascade; `as_fixture` adds what the pytest fixtures do around it."""
    chaos = Chaos(mesh, observe=as_fixture)
    before = mesh.journey(JOURNEY)
    with chaos.inject(Latency(EDGE, ms=ms)):
        mesh.journey(JOURNEY)
    after = mesh.journey(JOURNEY)
    chaos.close()
    if as_fixture:
        mesh.reset()
    if before.status != 200 or after.status != 200:
        raise SystemExit(f"the {JOURNEY} journey did not answer 200: {before.reason} / {after.reason}")
    check_clean(mesh, "Cascade")


def timed(fn, batch: int) -> list[float]:
    """Seconds of each of `batch` calls of fn."""
    out = []
    for _ in range(batch):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=20, help="experiments per batch (default 20)")
    p.add_argument("--ms", type=int, default=100, help="latency of the toxic (default 100)")
    args = p.parse_args(argv)
    python = ensure_venv()
    listing = "import json, importlib.metadata as m; print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
    versions = json.loads(subprocess.run([str(python), "-c", listing], capture_output=True, text=True, check=True).stdout)
    peer = {name: v for name, v in versions.items() if name.lower().startswith("chaostoolkit")}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        with Mesh(load_topology(TOPOLOGY), state_dir=Path(tmp) / "state") as mesh:
            mesh.steady_state()
            exp = Path(tmp) / "experiment.json"
            exp.write_text(json.dumps(experiment(mesh, args.ms), indent=1))
            runs = {
                "Chaos Toolkit, `chaos run` per experiment": ctk_cli(mesh, python, exp, Path(tmp), args.batch),
                "Chaos Toolkit, chaoslib in one process": ctk_library(mesh, python, exp, args.batch),
                "Cascade, as the fixtures run it (observe + reset)":
                    timed(lambda: cascade_run(mesh, args.ms, as_fixture=True), args.batch),
                "Cascade, Chaos.inject + mesh.journey": timed(lambda: cascade_run(mesh, args.ms, as_fixture=False),
                                                           args.batch),
            }  # fmt: skip
    results = {name: summarize([s * 1000 for s in secs]) for name, secs in runs.items()}
    batches = {name: round(sum(secs), 3) for name, secs in runs.items()}
    print_table(results)
    for name, total in batches.items():
        print(f"batch of {args.batch}: {total:7.2f} s  {name}")
    med = {name: statistics.median(secs) for name, secs in runs.items()}
    cli, lib, fixture, bare = runs  # the order of `runs` above
    # The equivalent of the peer's experiment is the bare run: the same probes, toxic and rollback.
    # The fixture style does more (every journey observed during the fault, recovery awaited).
    speedup_cli, speedup_lib, speedup_fixture = med[cli] / med[bare], med[lib] / med[bare], med[cli] / med[fixture]
    # Both tools wait out the toxic once (the probe during the fault): the tools' own cost is what is left.
    floor_s = args.ms / 1000
    speedup_net = (med[cli] - floor_s) / (med[bare] - floor_s)
    print(f"\nper experiment, Cascade (inject + journeys) is {speedup_cli:.1f}x faster than `chaos run` and "
          f"{speedup_lib:.1f}x than chaoslib in-process; as the fixtures run it, {speedup_fixture:.1f}x than "
          f"`chaos run` (target >= {TARGET_SPEEDUP:g}x)")
    headline = [
        {"measurement": "per experiment: `chaos run` / Cascade (Chaos.inject + mesh.journey)",
         "measured": f"{speedup_cli:.1f}x", "target": f">= {TARGET_SPEEDUP:g}x", "pass": speedup_cli >= TARGET_SPEEDUP},
        {"measurement": f"per experiment net of the toxic's {args.ms} ms both wait out: `chaos run` / Cascade",
         "measured": f"{speedup_net:.1f}x", "target": "", "pass": None},
        {"measurement": "per experiment: chaoslib in-process / Cascade (Chaos.inject + mesh.journey)",
         "measured": f"{speedup_lib:.1f}x", "target": "", "pass": None},
        {"measurement": "per experiment: `chaos run` / Cascade as the fixtures run it (observe + reset)",
         "measured": f"{speedup_fixture:.1f}x", "target": "", "pass": None},
        *({"measurement": f"batch of {args.batch}: {name}", "measured": f"{total:.2f} s", "target": "", "pass": None}
          for name, total in batches.items()),
    ]  # fmt: skip
    path = write_json("ctk", {
        "benchmark": "ctk", "peer": peer, "journey": JOURNEY, "edge": EDGE, "latency_ms": args.ms,
        "batch": args.batch, "machine": machine(), "batch_s": batches, "speedup_cli": round(speedup_cli, 2),
        "speedup_library": round(speedup_lib, 2), "speedup_cli_vs_fixture_style": round(speedup_fixture, 2),
        "speedup_cli_net_of_latency": round(speedup_net, 2),
        "results": results, "headline": headline,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
