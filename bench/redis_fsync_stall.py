"""How long Redis's one thread stalls on writes while the machine flushes other files to disk.

    python -m bench.redis_fsync_stall [--dirty-mb 4000] [--seconds 15]

For each appendfsync policy (always, everysec) it starts a private redis-server on 127.0.0.1
with its AOF in a temporary folder, writes --dirty-mb of zeros to another file in that folder,
runs `sync` a second later, and meanwhile times an INCR every 10 ms. With `always` every write
waits for an fsync, which waits for the flush: the mesh's Redis calls time out (100 ms) while
it lasts. This is why services/topology.toml runs Redis with `everysec`. Not part of bench/run:
it writes gigabytes to the disk on purpose.
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import redis

POLICIES = ("always", "everysec")


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def probe(policy: str, folder: Path, dirty_mb: int, seconds: float) -> dict[str, float]:
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "yes", "--appendfsync", policy, "--dir", str(folder)],
                              stdout=subprocess.DEVNULL)
    try:
        client = redis.Redis(port=port, socket_timeout=5)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise SystemExit(f"redis-server on port {port} did not start") from None
                time.sleep(0.02)
        big = folder / "dirty.bin"
        with open(big, "wb") as f:  # page cache only: dirty data for the flush below
            chunk = b"\0" * (1 << 20)
            for _ in range(dirty_mb):
                f.write(chunk)
        flush = threading.Timer(1.0, lambda: subprocess.run(["sync"], check=False))
        flush.start()
        latencies = []
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            t = time.perf_counter()
            client.incr("k")
            latencies.append((time.perf_counter() - t) * 1000)
            time.sleep(0.01)
        flush.join()
        big.unlink()
        latencies.sort()
        return {"writes": len(latencies), "p50_ms": latencies[len(latencies) // 2],
                "p99_ms": latencies[int(len(latencies) * 0.99)], "max_ms": latencies[-1],
                "over_100ms": sum(1 for x in latencies if x > 100)}
    finally:
        server.terminate()
        server.wait(10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dirty-mb", type=int, default=4000, help="how much to write before the flush (default 4000)")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to time writes (default 15)")
    args = parser.parse_args(argv)
    if shutil.which("redis-server") is None:
        print("redis-server is not on PATH; scripts/bootstrap installs it", file=sys.stderr)
        return 2
    if args.dirty_mb < 1 or args.seconds <= 2:
        print(f"--dirty-mb {args.dirty_mb} --seconds {args.seconds}: use at least 1 MB and more than 2 s",
              file=sys.stderr)
        return 2
    print(f"{'appendfsync':<12} {'writes':>6} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'> 100 ms':>9}")
    for policy in POLICIES:
        with tempfile.TemporaryDirectory(prefix="cascade-fsync-", dir=Path.home()) as tmp:
            r = probe(policy, Path(tmp), args.dirty_mb, args.seconds)
        print(f"{policy:<12} {r['writes']:>6.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.1f} {r['max_ms']:>8.1f} "
              f"{r['over_100ms']:>9.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
