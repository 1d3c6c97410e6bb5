"""Benchmark of the HTTP fault engine (Envoy) on the bundled mesh: HTTP fault apply+revert, and its cost at bring-up.

    .venv/bin/python bench/bench_http.py [--cycles 200] [--warmup 20] [--bringups 10] [--seed 1]

1. Apply+revert, verified. On one running mesh (local runtime, the engine on every HTTP edge),
   `undo = HttpError(edge, status=503).apply(mesh); undo()`, and the same for HttpDelay and
   HttpReplace, `--cycles` times each after `--warmup` untimed ones, the edge taking each of the
   12 HTTP edges in turn and the three kinds interleaved (in a random order each round). Apply and undo both return only once Envoy's /config_dump serves the
   new routes. Before timing, each kind is checked once through the edge's proxy (the caller
   really gets the 503 / the delay / the replaced status, and the callee's 200 after undo); after
   timing, every edge must serve its at-rest route again. `Chaos.inject(HttpError)` + revert, as
   a test writes it, is timed too. Reported: median, p90, p99 and max; target median < 5 ms.
2. Bring-up with and without the engine. `Mesh(...).__enter__()` until every service is healthy
   (and, with the engine, Envoy serves every edge's routes), with the engine (the default) and
   with CASCADE_HTTP_ENGINE=off, `--bringups` times each, alternating (each pair's order drawn
   at random), each from a fresh state directory; the ratio of the medians, target <= 1.10.

Writes bench/results/http.json. Targets are shown, never asserted: this is a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, percentile, summarize, write_json  # noqa: E402 - after the path fix
from harness.chaos import Chaos  # noqa: E402
from harness.clients.probe import http_request  # noqa: E402
from harness.faults.http import HttpDelay, HttpError, HttpFault, HttpReplace  # noqa: E402
from harness.mesh import Mesh  # noqa: E402
from harness.clients.envoy import engine_disabled  # noqa: E402
from harness.topology import load_topology  # noqa: E402

TOPOLOGY = ROOT / "services" / "topology.toml"
TARGET_APPLY_REVERT_MS = 5.0  # median
TARGET_BRINGUP_RATIO = 1.10  # engine on / off, medians
DELAY_MS = 100

# name -> (fault on an edge, what the caller must see through the proxy while it is applied)
KINDS: dict[str, tuple[Callable[[str], HttpFault], str]] = {
    "HttpError(503)": (lambda e: HttpError(e, status=503), "status 503"),
    f"HttpDelay({DELAY_MS}ms)": (lambda e: HttpDelay(e, ms=DELAY_MS), f"200 after >= {DELAY_MS} ms"),
    "HttpReplace(502)": (lambda e: HttpReplace(e, status=502), "status 502"),
}


def tails(samples: list[float]) -> dict[str, float]:
    """p90 and p99 (nearest rank) beside summarize()'s median, min, max and p95."""
    return {"p90_ms": round(percentile(samples, 90), 3), "p99_ms": round(percentile(samples, 99), 3)}


def check_effect(mesh: Mesh, name: str, edge: str) -> None:
    """Apply the fault once, untimed, and check what the caller gets through the edge's proxy, then after undo."""
    make, expect = KINDS[name]
    health = mesh.topology.service(mesh.topology.edges[edge].callee).health
    host, port = mesh.proxy_address(edge)
    undo = make(edge).apply(mesh)
    try:
        r = http_request(host, port, "GET", health, timeout_s=5.0)
    finally:
        undo()
    ok = {"HttpError(503)": r.status == 503, "HttpReplace(502)": r.status == 502}.get(
        name, r.status == 200 and r.elapsed_ms >= DELAY_MS)
    after = http_request(host, port, "GET", health, timeout_s=5.0)
    if not ok or after.status != 200:
        raise SystemExit(f"bench_http: {name} on {edge}: expected {expect} through the proxy, got "
                         f"{r.status or r.error} in {r.elapsed_ms:.1f} ms; after undo {after.status or after.error}")


def apply_revert(mesh: Mesh, edges: list[str], *, cycles: int, warmup: int,
                 rng: random.Random) -> dict[str, dict[str, list[float]]]:
    """Per kind, milliseconds of `undo = fault.apply(mesh); undo()` (and of each half), the edges taken in turn.

    The kinds are interleaved, one cycle of each in a random order per round, so a busy moment of
    the machine falls on all of them alike and their difference is the engine's, not the clock's.
    """
    out = {name: {"total": [], "apply": [], "undo": []} for name in KINDS}
    for i in range(warmup + cycles):
        edge = edges[i % len(edges)]
        order = list(KINDS)
        rng.shuffle(order)
        for name in order:
            t0 = time.perf_counter()
            undo = KINDS[name][0](edge).apply(mesh)
            t1 = time.perf_counter()
            undo()
            t2 = time.perf_counter()
            if i >= warmup:
                out[name]["total"].append((t2 - t0) * 1000)
                out[name]["apply"].append((t1 - t0) * 1000)
                out[name]["undo"].append((t2 - t1) * 1000)
    return out


def chaos_cycles(mesh: Mesh, edges: list[str], *, cycles: int, warmup: int) -> list[float]:
    """Milliseconds of `with Chaos(mesh).inject(HttpError(...)): pass` on a fresh Chaos, as a test writes it."""
    samples = []
    for i in range(warmup + cycles):
        fault = HttpError(edges[i % len(edges)], status=503)
        t0 = time.perf_counter()
        chaos = Chaos(mesh, observe=False)
        with chaos.inject(fault):
            pass
        chaos.close()
        if i >= warmup:
            samples.append((time.perf_counter() - t0) * 1000)
    return samples


def at_rest(mesh: Mesh) -> list[str]:
    """The edges whose served routes are not the at-rest one (just the callee): [] after a clean run."""
    engine = mesh.runtime.engine
    return sorted(edge for edge, (_v, routes) in engine.served_all().items()
                  if [r.get("name") for r in routes] != ["callee"] or engine.rules[edge])


def set_engine(on: bool) -> None:
    if on:
        os.environ.pop("CASCADE_HTTP_ENGINE", None)
    else:
        os.environ["CASCADE_HTTP_ENGINE"] = "off"


def bring_up(state_dir: Path, *, engine: bool) -> float:
    """Milliseconds of Mesh(...).__enter__() until ready, with or without the engine (teardown not timed)."""
    set_engine(engine)
    t0 = time.perf_counter()
    mesh = Mesh(load_topology(TOPOLOGY), state_dir=state_dir)
    mesh.__enter__()
    took = (time.perf_counter() - t0) * 1000
    try:
        runs = getattr(mesh.runtime, "engine", None) is not None
        if runs != engine:
            raise SystemExit(f"bench_http: the mesh {'runs no' if engine else 'runs an'} HTTP engine, "
                             f"expected {'one' if engine else 'none'} (CASCADE_HTTP_ENGINE is read at start)")
    finally:
        mesh.__exit__(None, None, None)
    time.sleep(0.5)  # let the machine settle between runs, as bench_mesh does
    return took


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cycles", type=int, default=200, help="timed apply+revert cycles per fault kind (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed cycles first (default 20)")
    p.add_argument("--bringups", type=int, default=10,
                   help="bring-ups with the engine and as many without (default 10)")
    p.add_argument("--seed", type=int, default=1, help="seed of the order of the kinds and of each bring-up pair")
    args = p.parse_args(argv)
    given = os.environ.get("CASCADE_HTTP_ENGINE")
    if engine_disabled():
        p.error(f"CASCADE_HTTP_ENGINE={given} turns the engine off; unset it (this benchmark sets it itself)")
    rng = random.Random(args.seed)

    results: dict[str, dict[str, Any]] = {}
    halves: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        with Mesh(load_topology(TOPOLOGY), state_dir=Path(tmp) / "state") as mesh:
            mesh.steady_state()
            edges = sorted(mesh.runtime.engine.edges)
            for name in KINDS:
                check_effect(mesh, name, edges[0])
            timed = apply_revert(mesh, edges, cycles=args.cycles, warmup=args.warmup, rng=rng)
            for name, s in timed.items():
                results[f"{name} apply+revert (verified)"] = (summarize(s["total"], TARGET_APPLY_REVERT_MS)
                                                              | tails(s["total"]))
                halves[name] = {"apply_median_ms": round(statistics.median(s["apply"]), 3),
                                "undo_median_ms": round(statistics.median(s["undo"]), 3)}
            s = chaos_cycles(mesh, edges, cycles=args.cycles, warmup=args.warmup)
            results["Chaos.inject(HttpError(503)) + revert"] = summarize(s) | tails(s)
            left = at_rest(mesh)
            if left:
                raise SystemExit(f"bench_http: edges not back at rest after the cycles: {', '.join(left)}")
            toxiproxy_version = mesh.toxiproxy.version()

        ups: dict[str, list[float]] = {"engine": [], "off": []}
        try:
            for i in range(args.bringups):
                order = ["engine", "off"]
                rng.shuffle(order)
                for arm in order:
                    ups[arm].append(bring_up(Path(tmp) / f"up{i}-{arm}", engine=arm == "engine"))
        finally:
            if given is None:
                os.environ.pop("CASCADE_HTTP_ENGINE", None)
            else:
                os.environ["CASCADE_HTTP_ENGINE"] = given
    if args.bringups:
        results["bring-up, engine on (bundled mesh)"] = summarize(ups["engine"])
        results["bring-up, CASCADE_HTTP_ENGINE=off"] = summarize(ups["off"])

    w = max(map(len, results))
    head = f"{'measurement':<{w}} {'n':>4} {'median':>8} {'p90':>8} {'p99':>8} {'max':>8}   target (median)"
    print(head + "\n" + "-" * len(head))
    for name, r in results.items():
        target = "" if r["target_ms"] is None else f"< {r['target_ms']:g} ms  {'ok' if r['meets_target'] else 'MISSED'}"
        p90 = f"{r['p90_ms']:>8.2f} {r['p99_ms']:>8.2f}" if "p90_ms" in r else f"{'':>8} {'':>8}"
        print(f"{name:<{w}} {r['n']:>4} {r['median_ms']:>8.2f} {p90} {r['max_ms']:>8.2f}   {target}")
    print("(all times in ms)")
    for name, h in halves.items():
        print(f"{name}: apply {h['apply_median_ms']:.2f} ms, undo {h['undo_median_ms']:.2f} ms (medians)")

    headline = [{"measurement": f"{name} apply+revert p90 / p99 / max (of {r['n']})",
                 "measured": f"{r['p90_ms']:.2f} / {r['p99_ms']:.2f} / {r['max_ms']:.2f} ms",
                 "target": "", "pass": None}
                for name, r in ((n, results[f"{n} apply+revert (verified)"]) for n in KINDS)]
    ratio = None
    if args.bringups:
        on, off = (statistics.median(ups[a]) for a in ("engine", "off"))
        ratio = round(on / off, 3)
        print(f"bring-up medians: engine on {on:.0f} ms, off {off:.0f} ms; ratio {ratio:.3f} "
              f"(target <= {TARGET_BRINGUP_RATIO:.2f}: {'ok' if ratio <= TARGET_BRINGUP_RATIO else 'MISSED'})")
        headline += [
            {"measurement": f"bring-up, engine on (median of {len(ups['engine'])}, alternated)",
             "measured": f"{on:.0f} ms", "target": "", "pass": None},
            {"measurement": f"bring-up, CASCADE_HTTP_ENGINE=off (median of {len(ups['off'])}, alternated)",
             "measured": f"{off:.0f} ms", "target": "", "pass": None},
            {"measurement": "bring-up ratio engine on / off (medians)", "measured": f"{ratio:.3f}",
             "target": f"<= {TARGET_BRINGUP_RATIO:.2f}", "pass": ratio <= TARGET_BRINGUP_RATIO},
        ]
    path = write_json("http", {
        "benchmark": "http", "topology": str(TOPOLOGY.relative_to(ROOT)), "cycles": args.cycles,
        "warmup": args.warmup, "bringups": args.bringups, "seed": args.seed, "http_edges": edges,
        "toxiproxy": toxiproxy_version, "machine": machine(), "halves": halves,
        "bringup_ms": {a: [round(x, 1) for x in v] for a, v in ups.items()}, "bringup_ratio": ratio,
        "target_bringup_ratio": TARGET_BRINGUP_RATIO, "results": results, "headline": headline,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
