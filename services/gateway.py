"""gateway: the public API edge: API keys, the entitlement gate, rate limits, sessions, then the services.

    x-api-key ─> tier ─> entitlement gate (403 + code 467 when the plan lacks the endpoint)
              ─> rate limit (login, post; counters in Redis)  fallback: rate_limit_fail_open
              ─> session via auth (x-session)                  fallback: session_cache
              ─> timeline / media / Redis (links)              fallback: media_placeholder

Edges: auth, timeline, media, redis, config, etcd. It never calls links (the graph stays acyclic):
the gated link lookup reads the same Redis hash the links service owns. Its entitlement rules
live in etcd (services/common/entitlements_watch.py); the rest of its config in the config service.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from services.common.context import note_degraded
from services.common.entitlements import ENTITLEMENT_ERROR, check, tier_of
from services.common.entitlements_watch import EntitlementsWatcher
from services.common.errors import DependencyFailure
from services.common.images import PLACEHOLDER_FALLBACK, placeholder
from services.common.policy import can_fall_back, failure_from_answer, read_json
from services.common.runtime import Runtime, main
from services.common.web import json_response

__all__ = ["SESSION_CACHE_TTL_S", "build"]

SESSION_CACHE_TTL_S = 300.0


def _no_such_session(answer: Any) -> bool:
    """Whether a 404 is auth's own answer that the session does not exist (its JSON body says so)."""
    try:
        return bool(answer.json().get("error") == "no such session")
    except (ValueError, AttributeError):
        return False


class _Refused(Exception):
    """A request the gateway answers itself (401, 403, 429); carries the response."""

    def __init__(self, response: Any) -> None:
        self.response = response


def build(environ: Any = None) -> tuple[Runtime, Any]:
    """The gateway's runtime and app."""
    from starlette.responses import Response
    from starlette.routing import Route

    rt = Runtime("gateway", ("config", "redis", "auth", "timeline", "media", "etcd"), environ=environ)
    rules = EntitlementsWatcher(rt, rt.env.deps["etcd"])
    rt.on_startup("entitlements", rules.first_load)
    rt.in_background(rules.run)
    redis, auth, timeline, media = (rt.caller(n) for n in ("redis", "auth", "timeline", "media"))
    sessions: dict[str, tuple[dict[str, Any], float]] = {}  # token -> (user, validated at)

    def gate(request: Any, endpoint: str) -> str:
        """The caller's tier, after the entitlement gate; raises _Refused."""
        tier = tier_of(request.headers.get("x-api-key"))
        if tier is None:
            raise _Refused(json_response({"error": "unknown or missing API key (x-api-key)"}, 401))
        if not check(tier, endpoint, rules.view(), coupled=rt.knobs.is_brittle("entitlement_coupling")).allowed:
            raise _Refused(json_response(ENTITLEMENT_ERROR, 403))
        return tier

    async def rate_limit(request: Any, action: str) -> None:
        limit = rt.view().rate_limit(action)
        minute = int(time.time() // 60)
        key = f"rl:{action}:{request.headers.get('x-api-key')}:{minute}"

        async def count(r: Any) -> int:
            async with r.pipeline(transaction=False) as p:
                p.incr(key)
                p.expire(key, 120)
                return (await p.execute())[0]

        try:
            used = await redis.redis(count)
        except DependencyFailure:
            if not can_fall_back(rt, available=True):
                raise
            note_degraded("rate_limit_fail_open")  # better to serve than to lock everyone out
            return
        if used > limit:
            wait = 60 - int(time.time() % 60)
            raise _Refused(json_response({"error": "too many requests; slow down", "retry_after_s": wait}, 429,
                                         {"retry-after": str(wait)}))

    async def user_of(request: Any) -> dict[str, Any]:
        token = request.headers.get("x-session", "")
        if not token:
            raise _Refused(json_response({"error": "please log in (x-session)"}, 401))
        try:
            answer = await auth.http("GET", f"/session/{token}")
            if answer.status == 404 and _no_such_session(answer):
                sessions.pop(token, None)
                raise _Refused(json_response({"error": "your session has ended; please log in again"}, 401))
            if answer.status != 200:
                # Not auth's verdict on this session (a gate's 403, a proxy's bare 404): auth is failing,
                # and logging the user out would pass that failure on as theirs (March 2023's sign-in).
                raise failure_from_answer("auth", answer)
        except DependencyFailure:
            cached = sessions.get(token)
            fresh = cached is not None and time.monotonic() - cached[1] < SESSION_CACHE_TTL_S
            if not can_fall_back(rt, available=fresh):
                raise
            note_degraded("session_cache")
            assert cached is not None
            return cached[0]
        user = answer.json()
        sessions[token] = (user, time.monotonic())
        return user

    def forward(answer: Any) -> Any:
        return Response(answer.body, answer.status, media_type=answer.content_type)

    async def login(request: Any) -> Any:
        gate(request, "login")
        await rate_limit(request, "login")
        return forward(await auth.http("POST", "/login", json=await read_json(request)))

    async def home(request: Any) -> Any:
        gate(request, "home_timeline")
        user = await user_of(request)
        return forward(await timeline.http("GET", f"/home/{user['user']}"))

    async def post(request: Any) -> Any:
        gate(request, "post")
        await rate_limit(request, "post")
        user = await user_of(request)
        body = await read_json(request)
        text = body.get("text") if isinstance(body, dict) else None
        # The key makes a retried post safe: timeline stores it once and returns the same id.
        key = request.headers.get("idempotency-key") or secrets.token_hex(8)
        answer = await timeline.http("POST", "/post", json={"user": user["user"], "text": text},
                                     headers={"x-idempotency-key": key})
        return forward(answer)

    async def media_bytes(request: Any) -> Any:
        gate(request, "media")
        media_id = request.path_params["media_id"]
        try:
            answer = await media.http("GET", f"/media/{media_id}")
        except DependencyFailure:
            if not can_fall_back(rt, available=True):
                raise
            note_degraded(PLACEHOLDER_FALLBACK)
            return Response(placeholder(), media_type="image/png")
        return forward(answer)

    async def api_home_timeline(request: Any) -> Any:
        gate(request, "home_timeline")
        user = await user_of(request)
        answer = await timeline.http("GET", f"/home/{user['user']}")
        if answer.status != 200:
            return forward(answer)
        statuses = [{"id_str": p["id"], "text": p["text"], "created_at": p["at"],
                     "user": {"screen_name": p["author"]},
                     "entities": {"media": [p["media"]] if p.get("media") else []}}
                    for p in answer.json()["posts"]]
        return json_response(statuses)

    async def link(request: Any) -> Any:
        gate(request, "links")
        code = request.path_params["code"]
        target = await redis.redis(lambda r: r.hget("links", code))
        if target is None:
            return json_response({"error": f"no link {code}"}, 404)
        return json_response({"code": code, "target": target})

    async def trends(request: Any) -> Any:
        gate(request, "trends")
        return forward(await timeline.http("GET", "/trends"))

    def refusable(handler: Any) -> Any:
        async def endpoint(request: Any) -> Any:
            try:
                return await handler(request)
            except _Refused as refused:
                return refused.response
        return endpoint

    async def entitlements(request: Any) -> Any:
        return json_response(rules.answer())

    routes = [
        ("/internal/entitlements", entitlements, "GET"),
        ("/api/login", login, "POST"),
        ("/api/home", home, "GET"),
        ("/api/post", post, "POST"),
        ("/api/media/{media_id:int}", media_bytes, "GET"),
        ("/api/1.1/statuses/home_timeline", api_home_timeline, "GET"),
        ("/api/links/{code}", link, "GET"),
        ("/api/trends", trends, "GET"),
    ]
    return rt, rt.app([Route(path, refusable(fn), methods=[method]) for path, fn, method in routes])


if __name__ == "__main__":
    main(build)
