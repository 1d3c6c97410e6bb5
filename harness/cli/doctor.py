"""`cascade doctor`: what Cascade found on this machine (Toxiproxy, Redis, etcd, nginx, Go, Docker, the locked packages)."""

from __future__ import annotations

import argparse
import sys

from ._common import print_json

__all__ = ["register", "run"]


def run(args: argparse.Namespace) -> int:
    from ..runtime.provision import doctor_report, find_toxiproxy, lock_rows

    if args.provision:
        find_toxiproxy(log=lambda line: print(f"cascade: {line}", file=sys.stderr))
    rows = doctor_report() + lock_rows()
    toxiproxy_ok = any(what == "toxiproxy-server" and ok for what, _f, ok in rows)
    if args.json:
        print_json([{"what": w, "finding": f, "ok": ok} for w, f, ok in rows])
    elif not args.quiet:
        width = max(len(w) for w, _f, _ok in rows)
        for what, finding, ok in rows:
            print(f"{'ok ' if ok else '-- '} {what:<{width}}  {finding}")
    return 0 if toxiproxy_ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("doctor", help="report what Cascade found (toxiproxy, redis, etcd, nginx, go, docker, locked packages)")
    d.add_argument("--provision", action="store_true", help="build toxiproxy-server 2.12.0 if it is missing")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--quiet", action="store_true", help="print nothing; exit status says if Toxiproxy is usable")
    d.set_defaults(func=run)
