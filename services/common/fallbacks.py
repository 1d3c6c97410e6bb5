"""What a service does when a dependency failed: fall back, forward the error, or say unavailable (pure).

    has a fallback and the fallbacks knob is resilient  ->  fallback      (answer marked degraded)
    else the error_passthrough knob is brittle           ->  passthrough   (the dependency's error, verbatim)
    else                                                  ->  unavailable   (503, clear JSON, Retry-After)
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from .errors import DependencyFailure
from .knobs import Knobs

__all__ = ["ErrorAnswer", "decide", "internal_error", "passthrough", "unavailable", "user_message"]


@dataclass(frozen=True)
class ErrorAnswer:
    """An HTTP answer for the end user: status, body, content type and extra headers."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()


def decide(knobs: Knobs, *, has_fallback: bool) -> str:
    """fallback, passthrough or unavailable, following the table above."""
    if has_fallback and not knobs.is_brittle("fallbacks"):
        return "fallback"
    if knobs.is_brittle("error_passthrough"):
        return "passthrough"
    return "unavailable"


def unavailable(message: str, retry_after_s: float = 1.0) -> ErrorAnswer:
    """503 with a short message for people and a Retry-After for programs."""
    seconds = max(1, math.ceil(retry_after_s))
    body = json.dumps({"error": message, "retry_after_s": seconds}, separators=(",", ":")).encode()
    return ErrorAnswer(503, body, headers=(("retry-after", str(seconds)),))


def passthrough(failure: DependencyFailure, *, status: int | None = None) -> ErrorAnswer:
    """The dependency's own error, forwarded as-is; a transport failure becomes a raw 502 error page."""
    if failure.status is not None:
        return ErrorAnswer(status or failure.status, failure.body, failure.content_type or "text/plain")
    body = f"Internal Server Error\n{failure.callee}: {failure.kind}: {failure.detail}\n".encode()
    return ErrorAnswer(status or 502, body, "text/plain")


def internal_error(*, trace: str, brittle: bool) -> ErrorAnswer:
    """An unexpected exception: a clear JSON 500, or (error_passthrough brittle) the raw traceback."""
    if brittle:
        return ErrorAnswer(500, f"Internal Server Error\n\n{trace}".encode(), "text/plain")
    body = json.dumps({"error": "something went wrong on our side; please try again", "retry_after_s": 1},
                      separators=(",", ":")).encode()
    return ErrorAnswer(500, body)


def user_message(callee: str) -> str:
    """The short user-facing sentence for an unavailable dependency."""
    what = {
        "auth": "sign-in", "timeline": "the timeline", "media": "images", "redis": "storage",
        "gateway": "the API", "config": "configuration", "links": "links",
    }.get(callee, callee)
    return f"{what} is temporarily unavailable; please retry shortly"
