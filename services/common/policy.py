"""Small helpers services use to apply the fallback policy to their own request handling."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import DependencyFailure
from .fallbacks import decide

if TYPE_CHECKING:
    from .calls import Answer
    from .runtime import Runtime

__all__ = ["can_fall_back", "failure_from_answer", "read_json"]


def can_fall_back(rt: Runtime, *, available: bool) -> bool:
    """True when a fallback exists and the mode lets the service use it."""
    return decide(rt.knobs, has_fallback=available) == "fallback"


def failure_from_answer(callee: str, answer: Answer) -> DependencyFailure:
    """A 4xx answer that the caller cannot use, as a failure (so it is forwarded or replaced per mode)."""
    return DependencyFailure(callee, "error_status", f"answered {answer.status}", status=answer.status,
                             body=answer.body, content_type=answer.content_type)


async def read_json(request: Any) -> Any:
    """The request's JSON body, or None when it is missing or not JSON."""
    try:
        return await request.json()
    except ValueError:
        return None
