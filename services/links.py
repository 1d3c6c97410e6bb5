"""links: the short-link redirector: GET /l/{code} answers 302 to the code's target (edges: redis, gateway, config).

    resilient:                  code ─> Redis hash "links" ─(failure)─> local cache warmed at start-up
    links_via_gateway brittle:  code ─> gateway GET /api/links/{code} (API key first-party-web), which
                                sits behind the entitlement gate: non-critical plumbing made critical
    error_passthrough brittle:  a failed gateway lookup is shown as the page, with status 200 (2023)
"""

from __future__ import annotations

import html
from typing import Any

from services.common.context import note_degraded
from services.common.errors import DependencyFailure
from services.common.fallbacks import decide, passthrough
from services.common.policy import can_fall_back, failure_from_answer
from services.common.runtime import Runtime, main
from services.common.seed import Seeder, seed_links
from services.common.web import error_response, json_response

__all__ = ["CACHE_FALLBACK", "FIRST_PARTY_KEY", "build"]

CACHE_FALLBACK = "links_local_cache"
FIRST_PARTY_KEY = "first-party-web"


class _NoSuchCode(Exception):
    """The code is not known anywhere."""


def build(environ: Any = None) -> tuple[Runtime, Any]:
    """The links service's runtime and app."""
    from starlette.responses import Response
    from starlette.routing import Route

    rt = Runtime("links", ("config", "redis", "gateway"), environ=environ)
    redis, gateway = rt.caller("redis"), rt.caller("gateway")
    seeder = Seeder(redis, "links", seed_links)
    cache: dict[str, str] = {}

    async def warm() -> None:
        await seeder.ensure()
        cache.update(await redis.redis(lambda r: r.hgetall("links")))

    async def from_store(code: str) -> str:
        if rt.knobs.is_brittle("links_via_gateway"):
            async def ask() -> Any:
                return await gateway.http("GET", f"/api/links/{code}", headers={"x-api-key": FIRST_PARTY_KEY})

            answer = await ask()
            if answer.status == 404 and await seeder.ensure():  # the gateway reads the hash links seeds
                answer = await ask()
            if answer.status == 404:
                raise _NoSuchCode(code)
            if answer.status != 200:
                raise failure_from_answer("gateway", answer)
            return str(answer.json()["target"])
        target = await redis.redis(lambda r: r.hget("links", code))
        if target is None and await seeder.ensure():
            target = await redis.redis(lambda r: r.hget("links", code))
        if target is None:
            raise _NoSuchCode(code)
        cache[code] = target
        return target

    async def resolve(code: str) -> str:
        try:
            return await from_store(code)
        except DependencyFailure:
            if not can_fall_back(rt, available=code in cache):
                raise
            note_degraded(CACHE_FALLBACK)
            return cache[code]

    async def redirect(request: Any) -> Any:
        code = request.path_params["code"]
        try:
            target = await resolve(code)
        except _NoSuchCode:
            return json_response({"error": f"no link {code}"}, 404)
        except DependencyFailure as failure:
            if decide(rt.knobs, has_fallback=False) != "passthrough":
                raise
            # What t.co did in March 2023: the lookup's error body, served as the page.
            return error_response(passthrough(failure, status=200))
        page = f'<a href="{html.escape(target)}">{html.escape(target)}</a>\n'
        return Response(page, 302, headers={"location": target}, media_type="text/html")

    async def resolve_json(request: Any) -> Any:
        code = request.path_params["code"]
        try:
            return json_response({"code": code, "target": await resolve(code)})
        except _NoSuchCode:
            return json_response({"error": f"no link {code}"}, 404)

    rt.on_startup("seed_and_warm_cache", warm)
    return rt, rt.app([
        Route("/l/{code}", redirect, methods=["GET"]),
        Route("/resolve/{code}", resolve_json, methods=["GET"]),
    ])


if __name__ == "__main__":
    main(build)
