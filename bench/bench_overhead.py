"""Benchmark of what one Toxiproxy hop costs: the same request to a callee through its edge's proxy and straight to it.

    .venv/bin/python bench/bench_overhead.py [--samples 300] [--seed 1]

Method. Every service of the bundled mesh reaches its callee only through that edge's proxy, so
a journey's time over the proxies minus its time without them is (hops crossed) x (one hop's cost).
Rather than start a second, directly wired copy of the mesh (twice the processes competing for
the same 2 cores, which would bias the comparison), this sends the callee's own health request
twice per sample, once to the proxy's listen address and once to the callee's port, in a random
order, on the same running mesh. Both requests do the same work in the callee; the only
difference is the hop. Two connection styles are measured, because they cost differently:

- keep-alive: one persistent connection each way, as the services' pooled HTTP clients call
  their upstreams (the proxy only relays bytes);
- fresh: a new TCP connection per request, as a journey's entry request is sent (the proxy also
  accepts and dials upstream).

Redis edges are measured with `PING` on a persistent connection. The per-hop overhead is the
difference of the medians (p50) and of the p99s, proxied minus direct. A journey's overhead is
then the per-hop keep-alive overhead times the edges it crosses, shown beside its measured p50.
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


def interleaved(via_proxy: Send, direct: Send, *, samples: int, rng: random.Random) -> tuple[list[float], list[float]]:
    """Milliseconds of `samples` calls of each sender, the pair's order drawn at random each time."""
    proxied: list[float] = []
    straight: list[float] = []
    for _ in range(samples):
        pair = [(via_proxy, proxied), (direct, straight)]
        rng.shuffle(pair)
        for send, out in pair:
            t0 = time.perf_counter()
            send()
            out.append((time.perf_counter() - t0) * 1000)
    return proxied, straight


def hop_row(proxied: list[float], straight: list[float]) -> dict[str, float]:
    """Per-hop overhead: proxied minus direct, at the median and at p99."""
    return {
        "proxied_p50_ms": round(percentile(proxied, 50), 3),
        "direct_p50_ms": round(percentile(straight, 50), 3),
        "overhead_p50_ms": round(percentile(proxied, 50) - percentile(straight, 50), 3),
        "proxied_p99_ms": round(percentile(proxied, 99), 3),
        "direct_p99_ms": round(percentile(straight, 99), 3),
        "overhead_p99_ms": round(percentile(proxied, 99) - percentile(straight, 99), 3),
    }


def measure_edges(mesh: Mesh, samples: int, rng: random.Random) -> dict[str, dict[str, dict[str, float]]]:
    """Every edge of the mesh, by connection style: the proxied and direct p50/p99 and their differences."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, edge in sorted(mesh.topology.edges.items()):
        callee = mesh.topology.service(edge.callee)
        direct, proxy = mesh.address(edge.callee), mesh.proxy_address(name)
        if callee.http:
            styles = {"keep-alive": keepalive_http, "fresh": fresh_http}
            pairs = {s: (make(*proxy, callee.health), make(*direct, callee.health)) for s, make in styles.items()}
        else:
            pairs = {"keep-alive": (keepalive_redis(*proxy), keepalive_redis(*direct))}
        out[name] = {style: hop_row(*interleaved(p, d, samples=samples, rng=rng)) for style, (p, d) in pairs.items()}
    return out


def pooled(edges: dict[str, dict[str, dict[str, float]]], style: str, key: str) -> float:
    """The median over edges of one per-edge number (edges measured in one style only are skipped)."""
    values = sorted(e[style][key] for e in edges.values() if style in e)
    return values[len(values) // 2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=300, help="interleaved pairs per edge and style (default 300)")
    p.add_argument("--journey-samples", type=int, default=30, help="journey runs for the journey p50 (default 30)")
    p.add_argument("--seed", type=int, default=1, help="seed of the proxied/direct order")
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="cascade-bench-") as tmp:
        with Mesh(load_topology(TOPOLOGY), state_dir=Path(tmp) / "state") as mesh:
            mesh.steady_state()
            edges = measure_edges(mesh, args.samples, rng)
            journeys = {n: [mesh.journey(n).elapsed_ms for _ in range(args.journey_samples)]
                        for n in sorted(mesh.topology.journeys)}
            crossed = {n: len(mesh.topology.journey(n).edges) for n in journeys}
            toxiproxy_version = mesh.toxiproxy.version()

    per_hop_p50 = pooled(edges, "keep-alive", "overhead_p50_ms")
    per_hop_p99 = pooled(edges, "keep-alive", "overhead_p99_ms")
    fresh_p50 = pooled(edges, "fresh", "overhead_p50_ms")
    journey_rows = {
        n: {"hops": crossed[n], "p50_ms": round(percentile(s, 50), 3), "p99_ms": round(percentile(s, 99), 3),
            "proxy_share_of_p50": round(crossed[n] * per_hop_p50 / percentile(s, 50), 4)}
        for n, s in journeys.items()
    }
    results = {f"journey {n}": summarize(s) for n, s in journeys.items()}
    print_table(results)
    print(f"\n{'edge':<18} {'style':<10} {'proxied p50':>11} {'direct p50':>10} {'+p50':>7} {'+p99':>7}")
    for name, styles in edges.items():
        for style, r in styles.items():
            print(f"{name:<18} {style:<10} {r['proxied_p50_ms']:>11.3f} {r['direct_p50_ms']:>10.3f} "
                  f"{r['overhead_p50_ms']:>7.3f} {r['overhead_p99_ms']:>7.3f}")
    print(f"\nper hop (median over edges), keep-alive: +{per_hop_p50:.3f} ms p50, +{per_hop_p99:.3f} ms p99; "
          f"fresh connection: +{fresh_p50:.3f} ms p50 (target p50 < {TARGET_P50_MS:g} ms)")
    headline = [
        {"measurement": "proxy overhead per hop, p50 (keep-alive, median over 16 edges)",
         "measured": f"{per_hop_p50:.3f} ms", "target": f"< {TARGET_P50_MS:g} ms", "pass": per_hop_p50 < TARGET_P50_MS},
        {"measurement": "proxy overhead per hop, p99 (keep-alive)", "measured": f"{per_hop_p99:.3f} ms",
         "target": "", "pass": None},
        {"measurement": "proxy overhead per hop, p50 (fresh connection)", "measured": f"{fresh_p50:.3f} ms",
         "target": "", "pass": None},
    ]
    path = write_json("overhead", {
        "benchmark": "overhead", "topology": str(TOPOLOGY.relative_to(ROOT)), "samples": args.samples,
        "toxiproxy": toxiproxy_version, "machine": machine(), "per_hop_p50_ms": per_hop_p50,
        "per_hop_p99_ms": per_hop_p99, "per_hop_fresh_p50_ms": fresh_p50, "edges": edges,
        "journeys": journey_rows, "results": results, "headline": headline,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
