"""The HTTP shell every service shares: JSON helpers and the middleware that sets up each request.

The middleware, for every request: counts it, opens its context (deadline, fallbacks used),
adds `x-cascade-degraded` to the answer when any fallback was behind it, and turns an escaped
DependencyFailure or exception into the mode's user-facing error (never a traceback unless
the error_passthrough knob is brittle).
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol

from starlette.responses import Response

from .context import (
    DEADLINE_HEADER,
    DEGRADED_HEADER,
    LKG_FALLBACK,
    RequestContext,
    incoming_deadline,
    reset_current,
    set_current,
)
from .errors import DependencyFailure
from .fallbacks import ErrorAnswer, decide, internal_error, passthrough, unavailable, user_message

if TYPE_CHECKING:
    from .config_state import ConfigState, ConfigView
    from .counters import Counters
    from .knobs import Knobs

__all__ = [
    "CascadeMiddleware", "STATE_PATH", "ServiceState", "error_response", "failure_response", "json_response", "note",
]  # fmt: skip


class ServiceState(Protocol):
    """What the HTTP shell reads of a service (runtime.Runtime is one); named here so web never imports runtime."""

    knobs: Knobs
    counters: Counters
    config_state: ConfigState | None
    clock: Callable[[], float]

    def view(self) -> ConfigView:
        """The config the service runs on now."""
        ...


log = logging.getLogger("chirp")
STATE_PATH = "/cascade/v1/state"  # the applied-version protocol (docs/service-protocol.md)
# Plumbing routes: not counted as requests, never marked degraded.
_PLUMBING = frozenset({"/health", STATE_PATH, "/counters", "/counters/reset"})


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """A compact JSON answer (compact so that `"code":467` reads the same everywhere)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status, headers=dict(headers or {}), media_type="application/json")


def error_response(answer: ErrorAnswer) -> Response:
    """The Starlette response for an ErrorAnswer."""
    return Response(answer.body, answer.status, headers=dict(answer.headers), media_type=answer.content_type)


def failure_response(rt: ServiceState, failure: DependencyFailure) -> Response:
    """A dependency failure with no fallback: forwarded (brittle error_passthrough) or a clear 503."""
    if decide(rt.knobs, has_fallback=False) == "passthrough":
        return error_response(passthrough(failure))
    return error_response(unavailable(user_message(failure.callee), failure.retry_after_s))


def note(ctx: RequestContext, name: str) -> None:
    """Add a fallback this service used to a context (outside the contextvar, for the middleware)."""
    if name not in ctx.used:
        ctx.used.append(name)
    if name not in ctx.degraded:
        ctx.degraded.append(name)


class CascadeMiddleware:
    """Pure ASGI middleware (so the request context is visible to the endpoint and back)."""

    def __init__(self, app: Any, runtime: ServiceState) -> None:
        self.app = app
        self.rt = runtime

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rt = self.rt
        plumbing = scope["path"] in _PLUMBING
        if not plumbing:
            rt.counters.requests += 1
        ctx = RequestContext(deadline=self._deadline(scope))
        token = set_current(ctx)
        started = False

        async def send_marked(message: Any) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                # Only a success can be degraded; an error answer is simply an error.
                if not plumbing and message["status"] < 400:
                    if rt.config_state is not None and rt.config_state.on_last_known_good:
                        # Counted, not shown: running on the last good config is invisible to the
                        # user, so it must not turn a full answer into a degraded one.
                        rt.counters.fallbacks[LKG_FALLBACK] += 1
                    for name in ctx.used:
                        rt.counters.fallbacks[name] += 1
                    if ctx.degraded:
                        headers = [h for h in message.get("headers", []) if h[0].lower() != DEGRADED_HEADER.encode()]
                        headers.append((DEGRADED_HEADER.encode(), ",".join(ctx.degraded).encode()))
                        message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_marked)
        except DependencyFailure as failure:
            log.warning("%s %s failed: %s", scope["method"], logged_path(scope), failure)
            if not started:
                await failure_response(rt, failure)(scope, receive, send_marked)
        except Exception:  # noqa: BLE001 - the last line of defence: turn any bug into the mode's 500
            trace = traceback.format_exc()
            log.error("%s %s crashed:\n%s", scope["method"], logged_path(scope), trace)
            if not started:
                answer = internal_error(trace=trace, brittle=rt.knobs.is_brittle("error_passthrough"))
                await error_response(answer)(scope, receive, send_marked)
        finally:
            reset_current(token)

    def _deadline(self, scope: Any) -> float | None:
        rt = self.rt
        if rt.knobs.is_brittle("timeouts"):
            return None
        header = None
        for k, v in scope.get("headers", []):
            if k == DEADLINE_HEADER.encode():
                header = v.decode("latin-1")
        try:
            budget_ms = float(rt.view().timeout_ms("request")) if rt.config_state is not None else 1_000.0
        except Exception:  # noqa: BLE001 - a broken (unvalidated) config must not stop the request here
            budget_ms = 1_000.0
        return incoming_deadline(header, budget_ms, rt.clock())


SECRET_PATH_PARAMS = frozenset({"token", "session", "secret", "password"})


def logged_path(scope: Any) -> str:
    """The request's path for a log line, a secret path parameter (a session token) replaced by <redacted>."""
    path = str(scope.get("path", ""))
    for name, value in (scope.get("path_params") or {}).items():
        if name in SECRET_PATH_PARAMS and value:
            path = path.replace(str(value), "<redacted>")
    return path
