"""Benchmark of what each hop of an edge costs: the same request through Toxiproxy and Envoy, Envoy alone, and direct.

    .venv/bin/python bench/bench_overhead.py [--samples 300] [--seed 1]

Method. Every service of the bundled mesh reaches its callee only through its edge: on an HTTP
edge caller -> Toxiproxy proxy -> Envoy listener (the HTTP fault engine) -> callee, on a Redis
edge caller -> Toxiproxy proxy -> redis. A journey's time through the mesh minus its time
without it is the sum of those hops over the edges it crosses. Rather than start a second,
directly wired copy of the mesh (twice the processes competing for the same 2 cores, which would
bias the comparison), this sends the callee's own health request to each point of the same
edge, in a random order per sample, on the same running mesh:

    (a) the Toxiproxy proxy's listen address   Toxiproxy + Envoy + callee
    (b) the edge's Envoy listener              Envoy + callee            (HTTP edges with the engine)
    (c) the callee's own port                  callee

Each request does the same work in the callee; only the hops differ. Envoy's hop = (b) - (c),
Toxiproxy's hop = (a) - (b) (on a Redis edge, or with CASCADE_HTTP_ENGINE=off, (a) - (c)), the
whole edge = (a) - (c); each a difference of medians (p50) and of p99s. Two connection styles
are measured, because they cost differently:

- keep-alive: one persistent connection to each point, as the services' pooled HTTP clients
  call their upstreams (a proxy only relays bytes on a connection it already has);
- fresh: a new TCP connection per request, as a journey's entry request is sent (Toxiproxy also
  accepts and dials its upstream; Envoy accepts, and may reuse its own pooled upstream connection).

Redis edges are measured with `PING` on a persistent connection (Toxiproxy only). A journey's
cost is the sum of its crossed edges' keep-alive whole-edge p50s, shown beside its measured p50.
Writes bench/results/overhead.json. Targets are shown, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import random
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, percentile, print_table, summarize, write_json  # noqa: E402 - after the path fix
from harness.mesh import Mesh  # noqa: E402
from harness.clients.probe import http_request  # noqa: E402
from harness.topology import load_topology  # noqa: E402

TOPOLOGY = ROOT / "services" / "topology.toml"
TARGET_P50_MS = 1.0  # per hop
Send = Callable[[], None]


def keepalive_http(host: str, port: int, path: str) -> Send:
    """A sender of `GET path` over one persistent HTTP/1.1 connection (reopened if the server closes it)."""
    conn = http.client.HTTPConnection(host, port, timeout=5.0)

    def send() -> None:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            raise RuntimeError(f"GET {host}:{port}{path} answered {resp.status}")
        if resp.will_close:
            conn.close()

    return send


def fresh_http(host: str, port: int, path: str) -> Send:
    """A sender of `GET path` on a new connection each time (the harness's own probe)."""

    def send() -> None:
        r = http_request(host, port, "GET", path, timeout_s=5.0)
        if r.status != 200:
            raise RuntimeError(f"GET {host}:{port}{path} failed: {r.status or r.error}")

    return send


def keepalive_redis(host: str, port: int) -> Send:
    """A sender of Redis `PING` over one persistent connection."""
    sock = socket.create_connection((host, port), timeout=5.0)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send() -> None:
        sock.sendall(b"PING\r\n")
        if not sock.recv(64).startswith(b"+PONG"):
            raise RuntimeError(f"redis on {host}:{port} did not answer PING")

    return send


def interleaved(senders: dict[str, Send], *, samples: int, rng: random.Random) -> dict[str, list[float]]:
    """Milliseconds of `samples` calls of each sender, their order drawn at random for each sample."""
    out: dict[str, list[float]] = {k: [] for k in senders}
    for _ in range(samples):
        order = list(senders)
        rng.shuffle(order)
        for k in order:
            t0 = time.perf_counter()
            senders[k]()
            out[k].append((time.perf_counter() - t0) * 1000)
    return out


def hop_row(t: dict[str, list[float]]) -> dict[str, float]:
    """p50 and p99 at each point (proxy, envoy if measured, callee) and each hop's cost: the differences."""
    row: dict[str, float] = {}
    for q in (50, 99):
        at = {k: percentile(v, q) for k, v in t.items()}
        for k, v in at.items():
            row[f"at_{k}_p{q}_ms"] = round(v, 3)
        behind_proxy = at.get("envoy", at["callee"])
        row[f"toxiproxy_hop_p{q}_ms"] = round(at["proxy"] - behind_proxy, 3)
        if "envoy" in at:
            row[f"envoy_hop_p{q}_ms"] = round(at["envoy"] - at["callee"], 3)
        row[f"edge_hop_p{q}_ms"] = round(at["proxy"] - at["callee"], 3)
    return row


def measure_edges(mesh: Mesh, samples: int, rng: random.Random) -> dict[str, dict[str, dict[str, float]]]:
    """Every edge of the mesh, by connection style: p50/p99 at each point and each hop's cost."""
    engine = getattr(mesh.runtime, "engine", None)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, edge in sorted(mesh.topology.edges.items()):
        callee = mesh.topology.service(edge.callee)
        points = {"proxy": mesh.proxy_address(name)}
        if engine is not None and name in engine.edges:
            points["envoy"] = ("127.0.0.1", engine.edges[name].listen_port)
        points["callee"] = mesh.address(edge.callee)
        if callee.http:
            styles = {"keep-alive": lambda h, p: keepalive_http(h, p, callee.health),
                      "fresh": lambda h, p: fresh_http(h, p, callee.health)}
        else:
            styles = {"keep-alive": keepalive_redis}
        out[name] = {style: hop_row(interleaved({k: make(*a) for k, a in points.items()}, samples=samples, rng=rng))
                     for style, make in styles.items()}
    return out


def pooled(edges: dict[str, dict[str, dict[str, float]]], style: str, key: str, only: list[str]) -> float | None:
    """The median over the edges in `only` of one per-edge number (None if none of them has it)."""
    values = sorted(edges[e][style][key] for e in only if key in edges[e].get(style, {}))
    return values[len(values) // 2] if values else None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=300, help="interleaved samples per edge and style (default 300)")
    p.add_argument("--journey-samples", type=int, default=30, help="journey runs for the journey p50 (default 30)")
    p.add_argument("--seed", type=int, default=1, help="seed of the order of the points in each sample")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        with Mesh(load_topology(TOPOLOGY), state_dir=Path(tmp) / "state") as mesh:
            mesh.steady_state()
            engine = getattr(mesh.runtime, "engine", None)
            engine_edges = sorted(engine.edges) if engine is not None else []
            http_edges = sorted(n for n, e in mesh.topology.edges.items() if mesh.topology.service(e.callee).http)
            edges = measure_edges(mesh, args.samples, rng)
            journeys = {n: [mesh.journey(n).elapsed_ms for _ in range(args.journey_samples)]
                        for n in sorted(mesh.topology.journeys)}
            crossed = {n: list(mesh.topology.journey(n).edges) for n in journeys}
            toxiproxy_version = mesh.toxiproxy.version()

    tcp_edges = sorted(set(edges) - set(http_edges))
    hop = {(side, style, q): pooled(edges, style, f"{side}_hop_p{q}_ms", http_edges)
           for side in ("toxiproxy", "envoy", "edge") for style in ("keep-alive", "fresh") for q in (50, 99)}
    redis_p50 = pooled(edges, "keep-alive", "toxiproxy_hop_p50_ms", tcp_edges)
    redis_p99 = pooled(edges, "keep-alive", "toxiproxy_hop_p99_ms", tcp_edges)
    journey_rows = {}
    for n, s in journeys.items():
        cost = sum(edges[e]["keep-alive"]["edge_hop_p50_ms"] for e in crossed[n] if e in edges)
        journey_rows[n] = {"edges": crossed[n], "p50_ms": round(percentile(s, 50), 3),
                           "p99_ms": round(percentile(s, 99), 3), "mesh_hops_ms": round(cost, 3),
                           "mesh_share_of_p50": round(cost / percentile(s, 50), 4)}
    results = {f"journey {n}": summarize(s) for n, s in journeys.items()}
    print_table(results)

    print(f"\n{'edge':<18} {'style':<10} {'proxy':>7} {'envoy':>7} {'callee':>7} | {'toxi+50':>7} {'envoy+50':>8} "
          f"{'toxi+99':>7} {'envoy+99':>8}   (p50 at each point, then each hop at p50 and p99; ms)")
    for name, styles in edges.items():
        for style, r in styles.items():
            def cell(key: str, width: int) -> str:
                return f"{r[key]:>{width}.3f}" if key in r else f"{'-':>{width}}"
            print(f"{name:<18} {style:<10} {cell('at_proxy_p50_ms', 7)} {cell('at_envoy_p50_ms', 7)} "
                  f"{cell('at_callee_p50_ms', 7)} | {cell('toxiproxy_hop_p50_ms', 7)} {cell('envoy_hop_p50_ms', 8)} "
                  f"{cell('toxiproxy_hop_p99_ms', 7)} {cell('envoy_hop_p99_ms', 8)}")
    print(f"\nmedian over the {len(http_edges)} HTTP edges (hop cost, ms):")
    print(f"{'':<24} {'Toxiproxy p50':>13} {'Envoy p50':>10} {'Toxiproxy p99':>13} {'Envoy p99':>10} {'edge p50':>9}")
    for style in ("keep-alive", "fresh"):
        cells = [hop[("toxiproxy", style, 50)], hop[("envoy", style, 50)], hop[("toxiproxy", style, 99)],
                 hop[("envoy", style, 99)], hop[("edge", style, 50)]]
        print(f"{style:<24} " + " ".join(f"{'-' if c is None else f'{c:.3f}':>{w}}"
                                         for c, w in zip(cells, (13, 10, 13, 10, 9))))
    if redis_p50 is not None:
        print(f"Toxiproxy hop on the {len(tcp_edges)} Redis edges (PING, keep-alive): {redis_p50:.3f} ms p50, "
              f"{redis_p99:.3f} ms p99")

    headline: list[dict[str, object]] = []
    n_http = len(http_edges)
    for style in ("keep-alive", "fresh"):
        for q in (50, 99):
            toxi, envoy = hop[("toxiproxy", style, q)], hop[("envoy", style, q)]
            if toxi is None:
                continue
            if envoy is None:
                headline.append({"measurement": f"Toxiproxy hop, p{q} ({style}, median over {n_http} HTTP edges; "
                                                "no HTTP engine)",
                                 "measured": f"{toxi:.3f} ms", "target": "", "pass": None})
                continue
            headline.append({"measurement": f"hop p{q}, Toxiproxy / Envoy ({style}, median over {n_http} HTTP edges)",
                             "measured": f"{toxi:.3f} / {envoy:.3f} ms", "target": "Envoy <= Toxiproxy",
                             "pass": envoy <= toxi})
    edge_p50 = hop[("edge", "keep-alive", 50)]
    if edge_p50 is not None:
        what = "Toxiproxy + Envoy" if engine_edges else "Toxiproxy"
        headline.append({"measurement": f"whole HTTP edge, p50 ({what}, keep-alive, median over {n_http} edges)",
                         "measured": f"{edge_p50:.3f} ms", "target": f"< {TARGET_P50_MS:g} ms",
                         "pass": edge_p50 < TARGET_P50_MS})
    if redis_p50 is not None:
        headline.append({"measurement": f"Toxiproxy hop on Redis edges, p50 / p99 (PING, keep-alive, median over "
                                        f"{len(tcp_edges)} edges)", "measured": f"{redis_p50:.3f} / {redis_p99:.3f} ms",
                         "target": "", "pass": None})
    path = write_json("overhead", {
        "benchmark": "overhead", "topology": str(TOPOLOGY.relative_to(ROOT)), "samples": args.samples,
        "seed": args.seed, "toxiproxy": toxiproxy_version, "machine": machine(), "engine_edges": engine_edges,
        "hops": {f"{side} {style} p{q}": v for (side, style, q), v in hop.items()},
        "redis_toxiproxy_p50_ms": redis_p50, "redis_toxiproxy_p99_ms": redis_p99, "edges": edges,
        "journeys": journey_rows, "results": results, "headline": headline,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
