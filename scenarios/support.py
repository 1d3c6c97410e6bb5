"""What the scenarios share: config pushes every service has seen, the seeded home timeline, posting as a key.

    observe_the_rest(mesh, chaos)   every journey not yet observed during the faults, one at a time
    config_counters(mesh)           every config consumer's counters (take them before a push)
    wait_for_config(mesh, v, before=...)   every config consumer has applied or rejected version v
    restore_seeded_home(mesh)       alice's and bob's home timelines back to the seeded 20 posts
    rate_limit_used(mesh, action, key)   how many requests the gateway counted this minute
"""

from __future__ import annotations

import time
from typing import Any

from harness.chaos import Chaos
from harness.mesh import Mesh
from harness.clients.probe import Response
from harness.judge.verdicts import Observation
from services.common.seed import DEMO_SESSION, FOLLOWERS, POSTS

__all__ = [
    "CONFIG_SEEN_WITHIN_S",
    "config_consumers",
    "config_counters",
    "observe_the_rest",
    "post_as",
    "rate_limit_used",
    "restore_seeded_home",
    "wait_for_config",
]

# Services poll every 100 ms and must act on a change within 200 ms; 3 s is the bound within
# which a scenario insists that every one of them has seen it (a loaded CI machine is slow).
CONFIG_SEEN_WITHIN_S = 3.0


def observe_the_rest(mesh: Mesh, chaos: Chaos) -> dict[str, Observation]:
    """Run, one after another, every journey not yet observed while the current faults are active.

    `chaos.inject` sweeps the journeys nobody looked at just before it reverts, but all at once:
    eight journeys fanning out at the same instant over two cores push healthy calls past their
    100 ms Redis timeout now and then, a verdict change caused by the observer rather than by
    the fault. One at a time, only the fault shows.
    """
    missing = [n for n in sorted(mesh.topology.journeys) if n not in chaos.during]
    return {n: mesh.journey(n) for n in missing}


def config_consumers(mesh: Mesh) -> tuple[str, ...]:
    """The services that read the config service (the callers of every `X->config` edge)."""
    cfg = mesh.topology.config_service
    return tuple(sorted(e.caller for e in mesh.topology.edges.values() if e.callee == cfg))


def config_counters(mesh: Mesh) -> dict[str, dict[str, Any]]:
    """Every consumer's /counters now: take it before a push and hand it to `wait_for_config`."""
    return {s: mesh.counters(s) for s in config_consumers(mesh)}


def wait_for_config(mesh: Mesh, version: int | None = None, *, before: dict[str, dict[str, Any]] | None = None,
                    applied: bool = False, within_s: float = CONFIG_SEEN_WITHIN_S) -> dict[str, dict[str, Any]]:
    """Block until every consumer has applied or rejected `version` (default: the current one); their counters.

    A rejection counts only if it is new since `before` (counters taken before the push): a
    consumer keeps every number it ever rejected, and a config service started without a
    data dir begins again at version 1, so the same number can already be on its list. With
    `applied=True`, only running `version` counts (for a version known to be good).
    """
    __tracebackhide__ = True
    if version is None:
        version = mesh.config().current().version

    def seen(service: str, c: dict[str, Any]) -> bool:
        if c.get("config_version") == version:
            return True
        old = (before or {}).get(service, {}).get("config_rejected", [])
        return not applied and c.get("config_rejected", []).count(version) > old.count(version)

    deadline = time.monotonic() + within_s
    while True:
        now = config_counters(mesh)
        if all(seen(s, c) for s, c in now.items()):
            return now
        if time.monotonic() > deadline:
            late = {s: (c.get("config_version"), c.get("config_rejected")) for s, c in now.items() if not seen(s, c)}
            raise AssertionError(f"config version {version} not {'applied' if applied else 'seen'} by every service "
                                 f"within {within_s} s; (applied, rejected) of the late ones: {late}")
        time.sleep(0.02)


def restore_seeded_home(mesh: Mesh) -> None:
    """Put the seeded posts (every third with an image) back at the top of every home timeline.

    The `post` journey pushes a new post onto every home timeline; after eight of them the
    seeded posts with images have left the first page, and home stops calling media at all
    (reported as a bug of the bundled mesh). Scenarios about media need home to cross
    timeline->media, so every scenario starts from the seeded timelines. Posts themselves
    (`post:<id>`) are untouched: acknowledged writes still read back.
    """
    import redis  # the mesh's own datastore client

    host, port = mesh.address("redis")
    ids = [p["id"] for p in reversed(POSTS)]  # newest first, as seeded
    client = redis.Redis(host=host, port=port, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        with client.pipeline(transaction=True) as p:
            for user in FOLLOWERS:
                p.delete(f"home:{user}")
                p.rpush(f"home:{user}", *ids)
            p.execute()
    finally:
        client.close()


def rate_limit_used(mesh: Mesh, action: str, api_key: str) -> int:
    """Requests the gateway has counted against `action` for `api_key` in the current minute (read-only)."""
    import redis

    host, port = mesh.address("redis")
    client = redis.Redis(host=host, port=port, socket_timeout=2.0, socket_connect_timeout=2.0)
    try:
        value = client.get(f"rl:{action}:{api_key}:{int(time.time() // 60)}")
    finally:
        client.close()
    return int(value or 0)


def post_as(mesh: Mesh, api_key: str, text: str, *, timeout_s: float = 3.0) -> Response:
    """POST /api/post on the gateway as alice (demo session) with `api_key`."""
    return mesh.request("gateway", "POST", "/api/post", headers={"x-api-key": api_key, "x-session": DEMO_SESSION},
                        json={"text": text}, timeout_s=timeout_s)
