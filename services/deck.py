"""deck: the internal multi-column tool; GET /deck fetches each column from the gateway (edges: gateway, config).

Columns are fetched concurrently with the internal API key `deck-internal`. Resilient: a column
that fails is shown marked partial (fallback deck_partial_columns) as long as one column works.
"""

from __future__ import annotations

import asyncio
from typing import Any

from services.common.context import note_degraded
from services.common.errors import DependencyFailure
from services.common.policy import can_fall_back, failure_from_answer
from services.common.runtime import Runtime, main
from services.common.web import json_response

__all__ = ["COLUMNS", "INTERNAL_KEY", "build"]

INTERNAL_KEY = "deck-internal"
PARTIAL_FALLBACK = "deck_partial_columns"
# name, gateway path, the key of the answer that holds the column's items, feature flag
COLUMNS = (
    ("home", "/api/home", "posts", ""),
    ("trends", "/api/trends", "trends", "trends_column"),
)


def build(environ: Any = None) -> tuple[Runtime, Any]:
    """The deck service's runtime and app."""
    from starlette.routing import Route

    rt = Runtime("deck", ("config", "gateway"), environ=environ)
    gateway = rt.caller("gateway")

    async def column(path: str, items: str, session: str) -> list[Any]:
        headers = {"x-api-key": INTERNAL_KEY}
        if session:
            headers["x-session"] = session
        answer = await gateway.http("GET", path, headers=headers)
        if answer.status != 200:
            raise failure_from_answer("gateway", answer)
        return list(answer.json()[items])

    async def deck(request: Any) -> Any:
        session = request.headers.get("x-session", "")
        view = rt.view()
        wanted = [c for c in COLUMNS if not c[3] or view.feature(c[3])]
        results = await asyncio.gather(*(column(path, items, session) for _, path, items, _ in wanted),
                                       return_exceptions=True)
        for r in results:
            if isinstance(r, BaseException) and not isinstance(r, DependencyFailure):
                raise r
        failures = [r for r in results if isinstance(r, DependencyFailure)]
        if failures and not can_fall_back(rt, available=len(failures) < len(results)):
            raise failures[0]
        if failures:
            note_degraded(PARTIAL_FALLBACK)
        out = []
        for (name, _, items, _), r in zip(wanted, results):
            if isinstance(r, DependencyFailure):
                out.append({"name": name, "partial": True, "error": "this column is unavailable right now"})
            else:
                out.append({"name": name, "partial": False, items: r})
        return json_response({"columns": out})

    return rt, rt.app([Route("/deck", deck, methods=["GET"])])


if __name__ == "__main__":
    main(build)
