"""auth: logs users in and validates sessions, both stored in Redis (its edges: redis, config)."""

from __future__ import annotations

import hmac
import json
import secrets
from typing import Any

from services.common.policy import read_json
from services.common.runtime import Runtime, main
from services.common.seed import USERS, Seeder, hash_password, seed_auth, session_value
from services.common.web import json_response

__all__ = ["SESSION_TTL_S", "build"]

SESSION_TTL_S = 3_600


def build(environ: Any = None) -> tuple[Runtime, Any]:
    """The auth service's runtime and app."""
    from starlette.routing import Route

    rt = Runtime("auth", ("config", "redis"), environ=environ)
    redis = rt.caller("redis")
    seeder = Seeder(redis, "auth", seed_auth)

    async def seed() -> None:
        await seeder.ensure()

    async def login(request: Any) -> Any:
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("user"), str) \
                or not isinstance(body.get("password"), str):
            return json_response({"error": 'send {"user": ..., "password": ...}'}, 400)
        user, password = body["user"], body["password"]
        stored = await redis.redis(lambda r: r.hgetall(f"user:{user}"))
        if not stored and user in USERS and await seeder.ensure():
            stored = await redis.redis(lambda r: r.hgetall(f"user:{user}"))
        if not stored or not hmac.compare_digest(stored.get("password_hash", ""), hash_password(user, password)):
            return json_response({"error": "wrong user or password"}, 401)
        token = secrets.token_urlsafe(24)
        await redis.redis(lambda r: r.set(f"session:{token}", session_value(user), ex=SESSION_TTL_S))
        return json_response({"session": token, "user": {"name": user, "display": stored.get("display", user)}})

    async def session(request: Any) -> Any:
        token = request.path_params["token"]
        value = await redis.redis(lambda r: r.get(f"session:{token}"))
        if value is None and await seeder.ensure():
            value = await redis.redis(lambda r: r.get(f"session:{token}"))
        if value is None:
            return json_response({"error": "no such session"}, 404)
        return json_response(json.loads(value))

    rt.on_startup("seed", seed)
    return rt, rt.app([
        Route("/login", login, methods=["POST"]),
        Route("/session/{token}", session, methods=["GET"]),
    ])


if __name__ == "__main__":
    main(build)
