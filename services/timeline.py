"""timeline: home timelines and posts in Redis, each post's image resolved via media (edges: redis, media, config).

    GET  /home/{user}   latest posts, media resolved;  fallbacks: stale_timeline, media_placeholder
    POST /post          stored atomically, acknowledged only after Redis confirmed it (never a fallback)
    GET  /posts/{id}    one post back (how the harness checks that no acknowledged post was lost)
    GET  /trends        top hashtags of recent posts;  fallback: stale_trends
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets
from collections import Counter
from typing import Any

from services.common.context import note_degraded
from services.common.errors import DependencyFailure
from services.common.images import PLACEHOLDER_FALLBACK
from services.common.policy import can_fall_back, failure_from_answer, read_json
from services.common.runtime import Runtime, main
from services.common.seed import FOLLOWERS, Seeder, seed_timeline
from services.common.web import json_response

log = logging.getLogger("timeline")

__all__ = ["PAGE", "build"]

PAGE = 10
MAX_TEXT = 280
IDEMPOTENCY_TTL_S = 600
_TAG = re.compile(r"#\w+")

# One atomic step: a retried post (same idempotency key) returns the id stored the first time,
# so retries cannot duplicate a post and an acknowledged id always names a stored post.
_STORE_POST = """
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[2], ARGV[2])
for i = 3, #KEYS do
  redis.call('LPUSH', KEYS[i], ARGV[1])
  redis.call('LTRIM', KEYS[i], 0, 499)
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return ARGV[1]
"""


def build(environ: Any = None) -> tuple[Runtime, Any]:
    """The timeline service's runtime and app."""
    from starlette.routing import Route

    rt = Runtime("timeline", ("config", "redis", "media"), environ=environ)
    redis, media = rt.caller("redis"), rt.caller("media")
    seeder = Seeder(redis, "timeline", seed_timeline)
    stale_home: dict[str, list[dict[str, Any]]] = {}  # the last good read per user
    stale_trends: list[list[dict[str, Any]]] = []
    pending_writes: set[asyncio.Task[str]] = set()  # early_ack's background stores (kept referenced)

    async def seed() -> None:
        await seeder.ensure()
        # Warm the stale copies too, so a fallback exists even before the first journey.
        for user in FOLLOWERS:
            stale_home[user] = await recent(user, PAGE)

    async def recent(user: str, count: int) -> list[dict[str, Any]]:
        async def read(r: Any) -> list[dict[str, Any]]:
            ids = await r.lrange(f"home:{user}", 0, count - 1)
            if not ids:
                return []
            raw = await r.mget([f"post:{i}" for i in ids])
            return [json.loads(p) for p in raw if p is not None]

        posts = await redis.redis(read)
        if not posts and user in FOLLOWERS and await seeder.ensure():
            posts = await redis.redis(read)
        return posts

    async def with_media(posts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        ids = sorted({p["media_id"] for p in posts if p.get("media_id") is not None})
        answers = await asyncio.gather(*(media.http("GET", f"/meta/{i}") for i in ids), return_exceptions=True)
        meta: dict[int, Any] = {}
        for media_id, answer in zip(ids, answers):
            if isinstance(answer, BaseException) and not isinstance(answer, DependencyFailure):
                raise answer
            if not isinstance(answer, DependencyFailure):
                try:
                    meta[media_id] = answer.json() if answer.status == 200 else None
                    continue
                except ValueError:  # a 200 whose body is no metadata (a proxy's page): media did not answer
                    answer = failure_from_answer("media", answer)
            if not can_fall_back(rt, available=True):
                raise answer
            note_degraded(PLACEHOLDER_FALLBACK)
            meta[media_id] = {"id": media_id, "url": f"/api/media/{media_id}", "placeholder": True}
        return [{**p, "media": meta.get(p.get("media_id"))} for p in posts]

    async def home(request: Any) -> Any:
        user = request.path_params["user"]
        try:
            posts = await recent(user, PAGE)
            stale_home[user] = posts
        except DependencyFailure:
            if not can_fall_back(rt, available=user in stale_home):
                raise
            note_degraded("stale_timeline")
            posts = stale_home[user]
        if rt.view().feature("media_previews"):
            posts = await with_media(posts)
        return json_response({"user": user, "posts": posts})

    async def create(request: Any) -> Any:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("user"), str) \
                or not isinstance(body.get("text"), str) or not 0 < len(body["text"]) <= MAX_TEXT:
            return json_response({"error": f'send {{"user": ..., "text": 1..{MAX_TEXT} characters}}'}, 400)
        key = request.headers.get("x-idempotency-key") or secrets.token_hex(8)
        post_id = "p" + secrets.token_hex(6)
        post = {"id": post_id, "author": body["user"], "text": body["text"], "media_id": None,
                "at": _now_iso()}
        keys = [f"idem:{key}", f"post:{post_id}"] + [f"home:{u}" for u in FOLLOWERS]

        async def store() -> str:
            return await redis.redis(
                lambda r: r.eval(_STORE_POST, len(keys), *keys, post_id, json.dumps(post), IDEMPOTENCY_TTL_S))

        if rt.knobs.is_brittle("early_ack"):
            # Write-behind: acknowledge now, store later. Fast, until Redis is unreachable: then
            # the user was told "posted" for a post that is never stored.
            task = asyncio.create_task(store())
            pending_writes.add(task)
            task.add_done_callback(_forget(pending_writes))
            return json_response({"id": post_id, "acknowledged": True}, 201)
        return json_response({"id": await store(), "acknowledged": True}, 201)

    async def one(request: Any) -> Any:
        post_id = request.path_params["post_id"]
        raw = await redis.redis(lambda r: r.get(f"post:{post_id}"))
        if raw is None:
            return json_response({"error": f"no post {post_id}"}, 404)
        return json_response(json.loads(raw))

    async def trends(request: Any) -> Any:
        try:
            posts = await recent(FOLLOWERS[0], 50)
            tags = Counter(tag for p in posts for tag in _TAG.findall(p["text"]))
            top = [{"tag": t, "posts": n} for t, n in tags.most_common(5)]
            stale_trends[:] = [top]
        except DependencyFailure:
            if not can_fall_back(rt, available=bool(stale_trends)):
                raise
            note_degraded("stale_trends")
            top = stale_trends[0]
        return json_response({"trends": top})

    rt.on_startup("seed", seed)
    return rt, rt.app([
        Route("/home/{user}", home, methods=["GET"]),
        Route("/post", create, methods=["POST"]),
        Route("/posts/{post_id}", one, methods=["GET"]),
        Route("/trends", trends, methods=["GET"]),
    ])


def _forget(tasks: set[asyncio.Task[str]]) -> Any:
    """A done-callback that drops a finished background store, swallowing its failure (that is the bug)."""
    def done(task: asyncio.Task[str]) -> None:
        tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("early_ack: an acknowledged post was never stored: %s", task.exception())
    return done


def _now_iso() -> str:
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


if __name__ == "__main__":
    main(build)
