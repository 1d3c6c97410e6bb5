"""Benchmark of config sources: one BadConfig push + applied + restore per source kind, beside the consumer's reload interval.

    .venv/bin/python bench/bench_config.py [--rounds 30] [--warmup 3] [--kind-budget-s 60] [--only NAME[,NAME...]]

Each kind gets a small system of its own in a fresh temporary folder, brought up, measured and
torn down before the next (one mesh at a time on the machine): the consumer every config-source
test uses (tests/integration/configapp/app.py, copied into the folder as the tests copy it: it
re-reads a JSON file or an etcd key every 100 ms, or only at SIGHUP / POST /reload with WATCH=0),
nginx reloading on SIGHUP, an etcd of the mesh's own, and the bundled mesh for the legacy "http"
source. One round is, as a test writes it,

    with Chaos(mesh, observe=False).inject(BadConfig(..., source=NAME)):   # push, reload, wait for applied
        pass                                                               # exit: restore, reload, wait again

timed from before the push to after the restore, with both halves noted, and checked: the push
and the restore each end with every consumer running the new content (`mesh.config(NAME)
.last_applied`), or, for `applied = { within_ms = 300 }` alone, the declared wait done. The
first warm-up round also checks the push's effect on the consumer's answer and its undo. After
the rounds the store must hold its original bytes again. `--rounds` timed rounds after
`--warmup` untimed ones per kind, stopped early when a kind has used `--kind-budget-s`.

Targets (medians; shown, never asserted): an observed kind's push+applied+restore under 3 x the
consumer's own reload interval + 300 ms (the interval is 0 for a consumer that reloads on demand:
a signal, a request, a restart); the within_ms kind no more than 10 % above its declared wait,
which it pays twice (push and restore): < 1.1 x 600 ms.

Writes bench/results/config.json.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere, against this checkout

from bench._common import machine, percentile, summarize, write_json  # noqa: E402 - after the path fix
from harness.chaos import Chaos  # noqa: E402
from harness.config import await_applied  # noqa: E402
from harness.faults import BadConfig  # noqa: E402
from harness.mesh import Mesh  # noqa: E402
from harness.topology import load_topology  # noqa: E402
from tests.integration.configapp import ETCD_SERVICE, SETTINGS, nginx_system, system  # noqa: E402 - the consumer the tests use, and its folder

BUNDLED = ROOT / "services" / "topology.toml"
SITE = b'location = /plan { return 200 "pro\\n"; }\n'
APPLY_SLACK_MS = 300.0  # an observed kind's target: 3 x the consumer's reload interval + this
WITHIN_MS = 300  # the declared wait of the within_ms kind
WITHIN_OVER = 1.10  # ... which may be exceeded by 10 %
APPLIED_HTTP = 'applied = { http = "GET /applied", within_ms = 3000 }'
APPLIED_LOG = 'applied = { log = "^applied config", rejected = "^rejected config", within_ms = 3000 }'


# -- the systems: one folder per kind, as tests/integration/test_config_sources.py builds them ----------------


def file_system(reload: str = "watch", applied: str = APPLIED_HTTP, env: str = "") -> Callable[[Path], Path]:
    return lambda root: system(root, f'''
[config.quote]
kind = "file"
consumers = ["quote"]
path = "conf/settings.json"
reload = "{reload}"
{applied}
''', env=env)


def env_system(root: Path) -> Path:
    return system(root, '''
[config.quote]
kind = "env"
consumers = ["quote"]
var = "PLAN"
''', env=', PLAN = "pro"')


def etcd_system(root: Path) -> Path:
    return system(root, f'''
[config.quote]
kind = "etcd"
consumers = ["quote"]
endpoints = "http://{{etcd}}"
key = "/shop/prices"
{APPLIED_HTTP}
''', env=', ETCD_KEY = "/shop/prices"', extra=ETCD_SERVICE.format(etcd=tool("etcd")))


def front_system(root: Path) -> Path:
    """nginx serving GET /plan from a raw site.conf (the tests' own nginx system)."""
    return nginx_system(root, tool("nginx"), SITE, name="configbench")


def tool(name: str) -> str:
    found = shutil.which(name, path="/usr/sbin:/usr/bin:/usr/local/bin")
    if not found:
        raise SystemExit(f"bench_config: no {name} on this machine; scripts/bootstrap installs it (Debian's package)")
    return found


# -- the kinds -------------------------------------------------------------------------------------------------


def quote(mesh: Mesh) -> tuple[int | None, Any]:
    r = mesh.request("quote", "GET", "/quote")
    return r.status, (json.loads(r.body) if r.status else r.error)


def plan(mesh: Mesh) -> bytes:
    return mesh.request("front", "GET", "/plan").body


@dataclass(frozen=True)
class Kind:
    """One source kind: how its system is built, what a round pushes, what the consumer then shows."""

    name: str
    label: str  # what the row says: the kind, its reload, its evidence
    build: Callable[[Path], Path] | None  # None: the bundled mesh
    interval_ms: float  # the consumer's own reload interval (0: it reloads when told)
    interval_note: str  # said next to the number
    source: str = "quote"
    waited: bool = False  # applied = { within_ms } alone: the number is the declared wait
    fault: Callable[[int], BadConfig] = lambda i: BadConfig.out_of_range("price_cents", 900 + i, source="quote")
    effect: Callable[[Mesh, int], Any] = lambda mesh, i: quote(mesh)  # what the consumer answers under round i's push
    expect: Callable[[int], Any] = lambda i: (200, {"plan": "pro", "price": 900 + i})
    at_rest: Any = (200, {"plan": "pro", "price": 250})
    original: bytes | None = SETTINGS  # what the store must hold after the rounds (None: not checked here)
    store: Callable[[Mesh], bytes | None] = lambda mesh: (mesh.topology.root / "conf" / "settings.json").read_bytes()

    @property
    def target_ms(self) -> float:
        if self.waited:
            return round(WITHIN_OVER * 2 * WITHIN_MS, 3)
        return 3 * self.interval_ms + APPLY_SLACK_MS


def _etcd_value(mesh: Mesh) -> bytes | None:
    from harness.clients.etcd import EtcdClient

    value = EtcdClient("http://%s:%d" % mesh.address("etcd")).get("/shop/prices")
    return None if value is None else value.value


KINDS: tuple[Kind, ...] = (
    Kind("file-watch-http", 'file, reload watch, applied http "GET /applied"', file_system(), 100,
         "consumer polls the file every 100 ms"),
    Kind("file-watch-log", 'file, reload watch, applied log "^applied config"', file_system(applied=APPLIED_LOG), 100,
         "consumer polls the file every 100 ms"),
    Kind("file-signal-hup", "file, reload signal:HUP (WATCH=0), applied log",
         file_system("signal:HUP", APPLIED_LOG, ', WATCH = "0"'), 0, "consumer reloads on SIGHUP only"),
    Kind("file-http-reload", "file, reload http:POST /reload (WATCH=0), applied log",
         file_system("http:POST /reload", APPLIED_LOG, ', WATCH = "0"'), 0,
         "consumer reloads on POST /reload only"),
    Kind("file-within-300", f"file, reload watch, applied within_ms = {WITHIN_MS} only",
         file_system(applied=f"applied = {{ within_ms = {WITHIN_MS} }}"), 100,
         f"not observed: the number is the declared {WITHIN_MS} ms wait, paid on push and on restore",
         waited=True),
    Kind("env", "env PLAN, reload restart (the consumer's restart included)", env_system, 0,
         "consumer restarted on push and on restore",
         fault=lambda i: BadConfig(patch={"PLAN": "free"}, source="quote"),
         expect=lambda i: (402, {"error": "plan 'free' does not include quotes"}), original=b"pro",
         store=lambda mesh: (mesh.runtime.env_value("quote", "PLAN") or "").encode()),
    Kind("etcd", 'etcd key (etcd a service of the mesh), reload watch, applied http "GET /applied"', etcd_system, 100,
         "consumer polls etcd every 100 ms", store=_etcd_value),
    Kind("nginx-hup", 'nginx site.conf (raw), reload signal:HUP, applied log "worker process \\d+ exited"',
         front_system, 0, "nginx reloads on SIGHUP only", source="site",
         fault=lambda i: BadConfig(raw=f'location = /plan {{ return 200 "free{i}\\n"; }}\n', source="site"),
         effect=lambda mesh, i: plan(mesh), expect=lambda i: f"free{i}\n".encode(), at_rest=b"pro\n", original=SITE,
         store=lambda mesh: (mesh.topology.root / "nginx" / "site.conf").read_bytes()),
    Kind("http-bundled", "http: the bundled mesh's config service, legacy source, + await_applied (6 consumers)",
         None, 100, "6 consumers poll the config service every 100 ms", source="",
         fault=lambda i: BadConfig(patch={"features.media_previews": i % 2 == 0}),
         effect=lambda mesh, i: None, expect=lambda i: None, at_rest=None, original=None),
)


# -- one round -------------------------------------------------------------------------------------------------


@dataclass
class Rounds:
    total: list[float] = field(default_factory=list)
    push: list[float] = field(default_factory=list)
    restore: list[float] = field(default_factory=list)
    warmup_done: int = 0
    stopped_early: bool = False


def check(kind: Kind, applied: Any, what: str) -> None:
    """The push (or restore) ended with the consumer running it: observed, or (within_ms alone) waited out."""
    if applied is None:
        raise SystemExit(f"bench_config: {kind.name}: no Applied recorded after the {what}")
    ok = (applied.evidence == "waited" and bool(applied.unknown)) if kind.waited else \
        (applied.evidence == "observed" and applied.settled and bool(applied.running))
    if not ok:
        raise SystemExit(f"bench_config: {kind.name}: the {what} did not end applied: {applied}")


def one_round(mesh: Mesh, kind: Kind, i: int, *, verify_effect: bool) -> tuple[float, float]:
    """Milliseconds of the push (+ reload + applied) and of the restore (the same), checked."""
    source = mesh.config(kind.source or None)
    chaos = Chaos(mesh, observe=False)
    try:
        t0 = time.perf_counter()
        with chaos.inject(kind.fault(i)):
            if kind.build is None:  # the legacy source says nothing itself: wait for every consumer to report it
                pushed = await_applied(source, source.current().version, within_s=mesh.topology.config_apply_s)
            else:
                pushed = source.last_applied
            t1 = time.perf_counter()
            if verify_effect and kind.build is not None and kind.effect(mesh, i) != kind.expect(i):
                raise SystemExit(f"bench_config: {kind.name}: under the push the consumer answers "
                                 f"{kind.effect(mesh, i)!r}, expected {kind.expect(i)!r}")
        restored = await_applied(source, source.current().version, within_s=mesh.topology.config_apply_s) \
            if kind.build is None else source.last_applied
        t2 = time.perf_counter()
    finally:
        chaos.close()
    check(kind, pushed, "push")
    check(kind, restored, "restore")
    if verify_effect and kind.build is not None and kind.effect(mesh, i) != kind.at_rest:
        raise SystemExit(f"bench_config: {kind.name}: after the restore the consumer answers "
                         f"{kind.effect(mesh, i)!r}, expected {kind.at_rest!r}")
    return (t1 - t0) * 1000, (t2 - t1) * 1000


@contextlib.contextmanager
def mesh_of(kind: Kind, tmp: Path) -> Iterator[tuple[Mesh, float]]:
    """The kind's system, up and healthy (with its bring-up in ms); torn down after."""
    topology = BUNDLED if kind.build is None else kind.build(tmp / kind.name / "system")
    t0 = time.perf_counter()
    with Mesh(load_topology(topology), state_dir=tmp / kind.name / "state") as mesh:
        up_ms = (time.perf_counter() - t0) * 1000
        if kind.build is None:
            mesh.steady_state()
        yield mesh, up_ms


def measure(kind: Kind, tmp: Path, *, rounds: int, warmup: int, budget_s: float) -> tuple[Rounds, dict[str, Any]]:
    """Warm-up rounds, then timed ones, until `rounds` or the kind's time budget; the store checked after."""
    out = Rounds()
    load_before = os.getloadavg()[0]
    with mesh_of(kind, tmp) as (mesh, up_ms):
        deadline = time.monotonic() + budget_s
        for i in range(warmup + rounds):
            if time.monotonic() >= deadline:
                out.stopped_early = True
                break
            push, restore = one_round(mesh, kind, i, verify_effect=i == 0)
            if i < warmup:
                out.warmup_done += 1
                continue
            out.total.append(push + restore)
            out.push.append(push)
            out.restore.append(restore)
        if kind.original is not None and kind.store(mesh) != kind.original:
            raise SystemExit(f"bench_config: {kind.name}: after the rounds the store holds {kind.store(mesh)!r}, "
                             f"not its original {kind.original!r}")
    return out, {"bringup_ms": round(up_ms, 1), "load_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)]}


# -- report ----------------------------------------------------------------------------------------------------


def row_name(kind: Kind) -> str:
    return f"{kind.name} push+applied+restore ({kind.interval_note})"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=30, help="timed rounds per kind (default 30)")
    p.add_argument("--warmup", type=int, default=3, help="untimed rounds first, the first checking the effect (default 3)")
    p.add_argument("--kind-budget-s", type=float, default=60.0,
                   help="a kind stops its rounds after this many seconds, warm-up included (default 60)")
    p.add_argument("--only", default="", help="comma-separated kinds: " + ", ".join(k.name for k in KINDS))
    args = p.parse_args(argv)
    if args.rounds < 1 or args.warmup < 1:
        p.error("--rounds and --warmup must be at least 1 (the first warm-up round checks the push's effect)")
    only = [n for n in args.only.split(",") if n]
    unknown = sorted(set(only) - {k.name for k in KINDS})
    if unknown:
        p.error(f"unknown kind {', '.join(unknown)}; kinds are: {', '.join(k.name for k in KINDS)}")
    chosen = [k for k in KINDS if not only or k.name in only]

    results: dict[str, dict[str, Any]] = {}
    kinds: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="cascade-bench-config-") as tmp:
        for kind in chosen:
            print(f"== {kind.name}: {kind.label}", flush=True)
            r, extra = measure(kind, Path(tmp), rounds=args.rounds, warmup=args.warmup, budget_s=args.kind_budget_s)
            if not r.total:
                raise SystemExit(f"bench_config: {kind.name}: no timed round within --kind-budget-s "
                                 f"{args.kind_budget_s:g} (warm-up rounds done: {r.warmup_done})")
            res = summarize(r.total, kind.target_ms) | {"p90_ms": round(percentile(r.total, 90), 3)}
            results[row_name(kind)] = res
            kinds[kind.name] = {
                "label": kind.label, "interval_ms": kind.interval_ms, "interval_note": kind.interval_note,
                "evidence": "waited" if kind.waited else "observed", "target_ms": kind.target_ms,
                "median_ms": res["median_ms"], "p90_ms": res["p90_ms"], "max_ms": res["max_ms"], "n": res["n"],
                "push_median_ms": round(statistics.median(r.push), 3),
                "restore_median_ms": round(statistics.median(r.restore), 3),
                "p90_meets_target": res["p90_ms"] < kind.target_ms, "stopped_early": r.stopped_early,
                "samples_ms": [round(x, 2) for x in r.total], "push_samples_ms": [round(x, 2) for x in r.push],
                "restore_samples_ms": [round(x, 2) for x in r.restore], **extra,
            }  # fmt: skip
            print(f"   median {res['median_ms']:.1f} ms, p90 {res['p90_ms']:.1f} ms (n={res['n']}); push "
                  f"{kinds[kind.name]['push_median_ms']:.1f} + restore {kinds[kind.name]['restore_median_ms']:.1f} "
                  f"ms; target < {kind.target_ms:g} ms: {'ok' if res['meets_target'] else 'MISSED'}", flush=True)

    w = max(len(k) for k in kinds)
    head = (f"{'kind':<{w}} {'interval':>8} {'n':>3} {'median':>8} {'p90':>8} {'max':>8} {'push':>8} {'restore':>8}"
            "   target (median)")
    print("\n" + head + "\n" + "-" * len(head))
    for name, k in kinds.items():
        interval = f"{k['interval_ms']:g} ms" if k["interval_ms"] else "on cue"
        print(f"{name:<{w}} {interval:>8} {k['n']:>3} {k['median_ms']:>8.1f} {k['p90_ms']:>8.1f} {k['max_ms']:>8.1f} "
              f"{k['push_median_ms']:>8.1f} {k['restore_median_ms']:>8.1f}   < {k['target_ms']:g} ms  "
              f"{'ok' if k['median_ms'] < k['target_ms'] else 'MISSED'}")
    print("(ms; push and restore are medians of each half; interval: the consumer's own reload interval, 'on cue' = "
          "it reloads when signalled, asked or restarted)")

    headline = [{"measurement": f"{name}: push / restore (medians); p90 / max of {k['n']}",
                 "measured": f"{k['push_median_ms']:.1f} / {k['restore_median_ms']:.1f} ms; "
                             f"{k['p90_ms']:.1f} / {k['max_ms']:.1f} ms",
                 "target": "", "pass": None}
                for name, k in kinds.items()]
    path = write_json("config", {
        "benchmark": "config", "rounds": args.rounds, "warmup": args.warmup, "kind_budget_s": args.kind_budget_s,
        "target": f"observed kinds: median < 3 x the consumer's reload interval + {APPLY_SLACK_MS:g} ms; "
                  f"within_ms = {WITHIN_MS}: median < {WITHIN_OVER:g} x its two declared waits",
        "machine": machine(), "kinds": kinds, "results": results, "headline": headline,
    })  # fmt: skip
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
