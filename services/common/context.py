"""The per-request context: the deadline carried from hop to hop and the fallbacks an answer used.

A request's deadline is its own budget (config `timeouts_ms.request`) or, when a caller sent
`x-cascade-deadline-ms`, that many ms minus a reply margin, whichever ends first. Every call
made while serving it gets min(its configured timeout, time left before the deadline), so a
chain of hops answers inside the entry point's budget instead of each hop waiting its own.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field

__all__ = [
    "DEADLINE_HEADER",
    "DEGRADED_HEADER",
    "HOP_MARGIN_S",
    "LKG_FALLBACK",
    "MIN_ATTEMPT_S",
    "RequestContext",
    "attempt_timeout_s",
    "current",
    "incoming_deadline",
    "note_degraded",
    "note_propagated",
    "parse_degraded",
    "reset_current",
    "set_current",
]

DEADLINE_HEADER = "x-cascade-deadline-ms"
DEGRADED_HEADER = "x-cascade-degraded"
HOP_MARGIN_S = 0.03  # time kept back at each hop to build a reply (or a fallback) and send it
MIN_ATTEMPT_S = 0.02  # an attempt with less time than this cannot succeed; do not start it
LKG_FALLBACK = "config_last_known_good"  # the fallback name of a service running on an older config


@dataclass
class RequestContext:
    """Mutable state of one request being served (not a value: handlers add fallbacks to it)."""

    deadline: float | None
    degraded: list[str] = field(default_factory=list)  # every fallback behind the answer (the header)
    used: list[str] = field(default_factory=list)  # the ones this service itself used (its counters)


_current: ContextVar[RequestContext | None] = ContextVar("chirp_request", default=None)


def current() -> RequestContext | None:
    """The context of the request being served, or None outside a request (background tasks)."""
    return _current.get()


def set_current(ctx: RequestContext | None) -> object:
    return _current.set(ctx)


def reset_current(token: object) -> None:
    _current.reset(token)  # type: ignore[arg-type]


def note_degraded(*names: str) -> None:
    """Record that this service used these fallbacks for the answer being built."""
    ctx = _current.get()
    if ctx is None:
        return
    for name in names:
        if name not in ctx.used:
            ctx.used.append(name)
    note_propagated(*names)


def note_propagated(*names: str) -> None:
    """Record fallbacks a dependency used for an answer this service is using (header only)."""
    ctx = _current.get()
    if ctx is None:
        return
    for name in names:
        if name and name not in ctx.degraded:
            ctx.degraded.append(name)


def parse_degraded(value: str | None) -> list[str]:
    """The fallback names in an x-cascade-degraded header value."""
    return [n.strip() for n in (value or "").split(",") if n.strip()]


def incoming_deadline(header: str | None, budget_ms: float, now: float) -> float:
    """The absolute deadline of a request: its own budget, shortened by a caller's deadline header."""
    ms = float(budget_ms)
    try:
        sent = float(header) if header else None
    except ValueError:
        sent = None
    if sent is not None and sent > 0:
        ms = min(ms, sent - HOP_MARGIN_S * 1000)
    return now + ms / 1000


def attempt_timeout_s(timeout_ms: float, deadline: float | None, now: float) -> float:
    """How long one attempt may take: the configured timeout, cut to what the deadline leaves."""
    t = float(timeout_ms) / 1000
    if deadline is not None:
        t = min(t, deadline - now - HOP_MARGIN_S)
    return t
