"""Verdicts: how one journey came out, decided from one HTTP answer by an ordered rule table (pure).

`classify` turns what came back (status, elapsed time, body, headers, transport error) into an
`Observation` with exactly one verdict. The first matching rule wins ("expected" means the
status is in `journey.expect_status`; "budget" is `journey.budget_ms`):

    | #  | verdict     | when                                                                 |
    |----|-------------|----------------------------------------------------------------------|
    | 1  | hung        | the transport timed out                                              |
    | 2  | hung        | elapsed_ms > budget, whatever came back (== budget is in time)       |
    | 3  | wrong       | an expected or 2xx/3xx status whose body contains a leak pattern     |
    | 4  | wrong       | a 2xx/3xx status that is not expected (200 where 302 was expected)   |
    | 5  | wrong       | expected status, no degraded header, body lacks journey.expect_body  |
    | 6  | degraded    | expected status and the degraded header names at least one fallback  |
    | 7  | full        | expected status (so: expected body, no degraded header, no leak)     |
    | 8  | failed_fast | a 4xx/5xx that is not expected; `leaked=True` if its body leaks      |
    | 9  | failed_fast | no HTTP answer and no timeout: refused, reset, other transport error |
    | 10 | wrong       | anything else: a 1xx or out-of-range status that is not expected     |

Leak patterns (`topology.leak_patterns`) match case-insensitively anywhere in the whole body.
A journey whose own `expect_body` contains a leak pattern expects that very refusal (the
third-party API called without a plan), so leak checks are off for it.
A timeout is `timed_out=True` or an error text containing "timed out" or "timeout".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ..errors import UsageError
from ..topology import VERDICTS, Journey, Topology

__all__ = ["EXCERPT_CHARS", "Observation", "SEVERITY", "classify", "worse"]

EXCERPT_CHARS = 300
# How bad a verdict is for its user, best first: a change towards the left is never a cascade.
SEVERITY = {"full": 0, "degraded": 1, "failed_fast": 2, "hung": 3, "wrong": 4}


def worse(verdict: str, than: str) -> bool:
    """True if `verdict` is worse for its user than `than`."""
    return SEVERITY[verdict] > SEVERITY[than]


@dataclass(frozen=True)
class Observation:
    """One journey's outcome: what came back, when, and the verdict with its reason."""

    journey: str
    status: int | None
    elapsed_ms: float
    body_excerpt: str
    headers: Mapping[str, str]
    error: str = ""
    at_s: float = 0.0
    verdict: str = field(kw_only=True)
    reason: str = field(default="", kw_only=True)
    fallbacks: tuple[str, ...] = field(default=(), kw_only=True)
    leaked: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise UsageError(
                f"Observation.verdict: unknown verdict {self.verdict!r}; verdicts are: {', '.join(VERDICTS)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready plain dict, for the journal."""
        return {
            "journey": self.journey,
            "verdict": self.verdict,
            "reason": self.reason,
            "status": self.status,
            "elapsed_ms": self.elapsed_ms,
            "at_s": self.at_s,
            "error": self.error,
            "fallbacks": list(self.fallbacks),
            "leaked": self.leaked,
            "headers": dict(self.headers),
            "body_excerpt": self.body_excerpt,
        }


@dataclass(frozen=True)
class _Facts:
    """Everything the rules look at, computed once from the raw answer."""

    status: int | None
    elapsed_ms: float
    budget_ms: int
    expect_status: tuple[int, ...]
    timed_out: bool
    leak: str
    lacks: str
    fallbacks: tuple[str, ...]
    error: str

    @property
    def expected(self) -> bool:
        return self.status is not None and self.status in self.expect_status

    @property
    def success(self) -> bool:
        return self.status is not None and 200 <= self.status <= 399

    @property
    def error_status(self) -> bool:
        return self.status is not None and 400 <= self.status <= 599


@dataclass(frozen=True)
class _Rule:
    verdict: str
    applies: Callable[[_Facts], bool]
    detail: Callable[[_Facts], str]


def _wanted(f: _Facts) -> str:
    return "expected " + " or ".join(str(s) for s in f.expect_status)


# The whole policy lives in this table; classify only computes facts and takes the first hit.
_RULES: tuple[_Rule, ...] = (
    _Rule("hung", lambda f: f.timed_out, lambda f: f.error or "timed out"),
    _Rule("hung", lambda f: f.elapsed_ms > f.budget_ms, lambda f: f"over the {f.budget_ms} ms budget"),
    _Rule("wrong", lambda f: bool(f.leak) and (f.expected or f.success), lambda f: f"body leaks {f.leak!r}"),
    _Rule("wrong", lambda f: f.success and not f.expected, _wanted),
    _Rule("wrong", lambda f: f.expected and not f.fallbacks and bool(f.lacks), lambda f: f"body lacks {f.lacks!r}"),
    _Rule("degraded", lambda f: f.expected and bool(f.fallbacks), lambda f: "fallback " + ", ".join(f.fallbacks)),
    _Rule("full", lambda f: f.expected, lambda f: ""),
    _Rule("failed_fast", lambda f: f.error_status, lambda f: f"body leaks {f.leak!r}" if f.leak else ""),
    _Rule("failed_fast", lambda f: f.status is None, lambda f: f.error or "no answer"),
    _Rule("wrong", lambda f: True, lambda f: f"unexpected status, {_wanted(f)}"),
)


def classify(
    journey: Journey,
    topology: Topology,
    *,
    status: int | None,
    elapsed_ms: float,
    body: bytes | str = b"",
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    error: str = "",
    at_s: float = 0.0,
    timed_out: bool = False,
) -> Observation:
    """Give one journey's answer exactly one verdict, following the table in this module's docstring."""
    if status is not None and (isinstance(status, bool) or not isinstance(status, int)):
        raise UsageError(f"classify: status must be an int or None, got {status!r}")
    if isinstance(elapsed_ms, bool) or not isinstance(elapsed_ms, (int, float)) or math.isnan(elapsed_ms) or elapsed_ms < 0:
        raise UsageError(f"classify: elapsed_ms must be a number >= 0, got {elapsed_ms!r}")
    text = _decode(body)
    hdrs = _headers(headers)
    raw_fallbacks = hdrs.get(topology.degraded_header, "")
    facts = _Facts(
        status=status,
        elapsed_ms=float(elapsed_ms),
        budget_ms=journey.budget_ms,
        expect_status=journey.expect_status,
        timed_out=timed_out or _is_timeout(error),
        leak=_find_leak(text, topology.leak_patterns, journey.expect_body),
        lacks=journey.expect_body if journey.expect_body and journey.expect_body not in text else "",
        fallbacks=tuple(n.strip() for n in raw_fallbacks.split(",") if n.strip()) or _body_fallback(journey, text),
        error=error,
    )
    rule = next(r for r in _RULES if r.applies(facts))
    head = f"{status} in {_ms(elapsed_ms)} ms" if status is not None else f"no answer in {_ms(elapsed_ms)} ms"
    detail = rule.detail(facts)
    return Observation(
        journey=journey.name,
        status=status,
        elapsed_ms=float(elapsed_ms),
        body_excerpt=text[:EXCERPT_CHARS],
        headers=hdrs,
        error=error,
        at_s=at_s,
        verdict=rule.verdict,
        reason=f"{head}: {detail}" if detail else head,
        fallbacks=facts.fallbacks,
        leaked=bool(facts.leak),
    )


def _body_fallback(journey: Journey, text: str) -> tuple[str, ...]:
    """A journey's `degraded_body` match, named by what matched: the service said "degraded" in the body."""
    if not journey.degraded_body:
        return ()
    m = re.search(journey.degraded_body, text)
    return (f"body {m.group(0)[:60]!r}",) if m else ()


def _decode(body: object) -> str:
    if body is None:
        return ""
    if isinstance(body, str):
        return body
    if isinstance(body, (bytes, bytearray, memoryview)):
        # Lenient: an error page in a wrong charset is still evidence, never a crash.
        return bytes(body).decode("utf-8", errors="replace")
    raise UsageError(f"classify: body must be bytes or str, got {type(body).__name__} {body!r:.60}")


def _headers(headers: object) -> dict[str, str]:
    # http.client's getheaders() gives pairs, not a mapping; take both.
    pairs = headers.items() if isinstance(headers, Mapping) else headers or ()
    try:
        return {str(k).lower(): str(v) for k, v in pairs}  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise UsageError(f"classify: headers must be a mapping or (name, value) pairs, got {headers!r:.80}") from None


def _is_timeout(error: str) -> bool:
    low = (error or "").lower()
    return "timed out" in low or "timeout" in low


def _find_leak(text: str, patterns: tuple[str, ...], expect_body: str) -> str:
    low, expected = text.casefold(), expect_body.casefold()
    live = [p for p in patterns if p]
    if any(p.casefold() in expected for p in live):
        return ""
    return next((p for p in live if p.casefold() in low), "")


def _ms(value: float) -> str:
    return f"{value:.0f}"
