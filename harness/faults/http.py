"""HTTP faults: one HTTP edge's requests or answers changed by the HTTP engine (Envoy) beside its Toxiproxy proxy.

    http fault
    ├── HttpError    the caller gets `status` (`body`, `headers`); the request never reaches the callee
    │                (`percent` of requests, or the `first` N, then they pass)
    ├── HttpDelay    the request waits `ms` before it goes on: the answer starts that much later
    └── HttpReplace  the request reaches the callee (it does the work); the caller gets `status`/`body` instead

Each takes `percent`, `path` (exact, or a prefix ending in *) and `method` to choose the requests.
Only on an HTTP edge (`protocol = "http"`, or a url template http://...): a Redis or other TCP
edge is refused by name. TCP faults (Latency, Down, ...) keep working on HTTP edges, alone or with
these: the caller's connection crosses Toxiproxy first, then the engine (harness/clients/envoy.py).
Apply adds this fault's rule to the edge's routes and undo removes exactly it, both read back from
Envoy's own state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import InvalidFault
from .base import DrawContext, Undo, register_fault_kind
from .network import EdgeFault

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..clients.envoy import HttpRule
    from ..mesh import Mesh
    from ..topology import Topology

__all__ = ["HTTP_METHODS", "HttpDelay", "HttpError", "HttpFault", "HttpReplace", "http_edges"]

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_MAX_DELAY_MS = 3_600_000
DRAWN_STATUSES = (503, 500, 502, 504)
"""The statuses exploration draws for HttpError (see HttpError.draw)."""


def http_edges(ctx: DrawContext) -> list[str]:
    """The edges HTTP faults may be drawn on: the engine's (ctx.http_edges), else every HTTP edge."""
    if ctx.http_edges is not None:
        return sorted(ctx.http_edges)
    return sorted(e for e, edge in ctx.topology.edges.items() if edge.is_http)


def _body(owner: str, value: Any, headers: dict[str, str]) -> bytes:
    """bytes as given, str as UTF-8, anything else as compact JSON (content-type: application/json)."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise InvalidFault(f"{owner}.body must be bytes, str or a JSON-able value, got {value!r:.60} ({exc})") from None
    headers.setdefault("content-type", "application/json")
    return text.encode()


def _status(owner: str, status: Any) -> None:
    if isinstance(status, bool) or not isinstance(status, int) or not 200 <= status <= 599:
        raise InvalidFault(f"{owner}.status must be an HTTP status 200..599, got {status!r}")


@dataclass(frozen=True)
class HttpFault(EdgeFault):
    """What every HTTP fault shares: which requests (percent, path, method), the HTTP-edge check, the engine."""

    kind: ClassVar[str] = ""
    category: ClassVar[str] = "http"
    family: ClassVar[str] = "http"
    answers: ClassVar[bool] = False
    """Whether it carries an answer for the caller (`status`, `body`, `headers`), checked at construction."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.answers:
            self._check_answer()
        self._check_selection()

    def describe(self) -> str:
        words = self._selection_words()
        return f"{type(self).__name__}({self.edge}, {self._what()}{', ' if words else ''}{' '.join(words)})"

    def _what(self) -> str:
        """What it does, shown first in `describe` (its status, or its delay)."""
        return str(getattr(self, "status"))

    def _check_selection(self) -> None:
        owner = type(self).__name__
        percent = getattr(self, "percent")
        if isinstance(percent, bool) or not isinstance(percent, (int, float)) or not 0 < percent <= 100:
            raise InvalidFault(f"{owner}.percent must be in (0, 100], got {percent!r}")
        path = getattr(self, "path")
        if path is not None and (not isinstance(path, str) or not path.startswith("/") or "*" in path[:-1]):
            raise InvalidFault(f"{owner}.path must start with '/' (one trailing * matches a prefix), got {path!r}")
        method = getattr(self, "method")
        if method is not None:
            if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
                raise InvalidFault(f"{owner}.method must be one of {', '.join(HTTP_METHODS)}, got {method!r}")
            object.__setattr__(self, "method", method.upper())

    def _check_answer(self) -> None:
        """status, headers and body (bytes, str or JSON) of an answer the caller gets."""
        owner = type(self).__name__
        _status(owner, getattr(self, "status"))
        given = getattr(self, "headers")
        if not isinstance(given, (dict, tuple)):
            raise InvalidFault(f"{owner}.headers must map header names to values, got {given!r:.60}")
        headers = {str(k).lower(): str(v) for k, v in dict(given).items()}
        object.__setattr__(self, "body", _body(owner, getattr(self, "body"), headers))
        object.__setattr__(self, "headers", tuple(sorted(headers.items())))

    @classmethod
    def from_spec(cls, target: str, **params: Any) -> Any:
        """As the CLI and journals build it; `body=@file` reads the file's bytes."""
        body = params.get("body")
        if isinstance(body, str) and body.startswith("@"):
            try:
                params["body"] = Path(body[1:]).read_bytes()
            except OSError as exc:
                raise InvalidFault(f"{cls.kind} body={body}: cannot read {body[1:]!r}: {exc.strerror or exc}") from None
            headers = dict(params.get("headers") or {})
            if body.endswith(".json") and not any(k.lower() == "content-type" for k in headers):
                params["headers"] = {**headers, "content-type": "application/json"}
        return super().from_spec(target, **params)

    def params(self) -> dict[str, Any]:
        out = super().params()
        if isinstance(out.get("body"), bytes):
            out["body"] = out["body"].decode("utf-8", "replace")
        if "headers" in out:
            out["headers"] = dict(out["headers"])
        return out

    def _selection_words(self) -> list[str]:
        words = [f"{getattr(self, 'percent'):g}%"] if getattr(self, "percent") < 100 else []
        return words + [w for w in (getattr(self, "method"), getattr(self, "path")) if w]

    def validate(self, topology: Topology) -> None:
        super().validate(topology)
        edge = topology.edge(self.edge)
        if not edge.is_http:
            raise InvalidFault(f"{self.describe()}: {self.edge} is not an HTTP edge (its url is {edge.url!r}); "
                               "HTTP faults go on HTTP edges (declare protocol = \"http\" if it is one), "
                               "TCP faults (Latency, Down, ...) on any edge")

    def exclusive_key(self, config_service: str | None = None) -> tuple[str, str]:
        return ("http", self.edge)  # one HTTP fault per edge at a time while exploring: their rules would shadow

    def rule(self) -> HttpRule:
        """This fault as the engine's rule (a new one per call: the engine tells rules apart by identity)."""
        raise NotImplementedError

    def apply(self, mesh: Mesh) -> Undo:
        (edge,) = self.edges(mesh.topology)
        engine = getattr(mesh.runtime, "engine", None)
        if engine is None or edge not in engine.edges:
            raise InvalidFault(f"{self.describe()}: the {mesh.runtime.name} runtime runs no HTTP engine on {edge}; "
                               "HTTP faults need it (it runs unless CASCADE_HTTP_ENGINE=off; custom runtimes set `engine`)")
        rule = self.rule()
        engine.add_rule(edge, rule)
        return lambda: engine.remove_rule(edge, rule)

    @classmethod
    def _per_http_edge(cls, ctx: DrawContext, make: Any) -> SearchStrategy[Any] | None:
        from hypothesis import strategies as st

        edges = http_edges(ctx)
        return st.one_of(*(make(e) for e in edges)) if edges else None


@register_fault_kind
@dataclass(frozen=True)
class HttpError(HttpFault):
    """The caller gets `status` (with `body`, `headers`) from the engine; the callee never sees the request."""

    status: int
    body: Any = b""
    headers: Any = field(default_factory=dict)
    percent: float = 100.0
    first: int | None = None
    path: str | None = None
    method: str | None = None

    kind: ClassVar[str] = "http_error"
    usage: ClassVar[str] = "status=N [body=TEXT|JSON|@file] [percent=P] [first=N] [path=/x/*] [method=GET]"

    answers: ClassVar[bool] = True

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.first is not None and (isinstance(self.first, bool) or not isinstance(self.first, int)
                                       or self.first < 1):
            raise InvalidFault(f"HttpError.first must be a whole number >= 1 (the next N requests), got {self.first!r}")

    def _selection_words(self) -> list[str]:
        return super()._selection_words() + ([f"first={self.first}"] if self.first else [])

    def rule(self) -> HttpRule:
        from ..clients.envoy import HttpRule

        return HttpRule("abort", self.status, self.body, dict(self.headers), float(self.percent), self.path,
                        self.method, first=self.first)

    @classmethod
    def draw(cls, ctx: DrawContext) -> Any:
        from hypothesis import strategies as st

        # 5xx only: an answer every contract can judge. A 4xx may be the callee's own legitimate
        # answer (404: no such item), which a caller is right to pass on; 4xx faults belong in
        # scenarios that know the callee's contract (the 403 / code 467 one).
        return cls._per_http_edge(ctx, lambda e: st.builds(
            lambda s, p: cls(e, status=s, percent=p), st.sampled_from(DRAWN_STATUSES), st.sampled_from([100, 50])))

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> HttpError:
        """What the sweep tries on every HTTP edge: the dependency up, answering 503 (Latency covers delays)."""
        return cls(edge, status=503)


@register_fault_kind
@dataclass(frozen=True)
class HttpDelay(HttpFault):
    """The request waits `ms` in the engine before it goes on to the callee: the answer starts that much later."""

    ms: int
    percent: float = 100.0
    path: str | None = None
    method: str | None = None

    kind: ClassVar[str] = "http_delay"
    usage: ClassVar[str] = "ms=N [percent=P] [path=/x/*] [method=GET]"
    _checks: ClassVar[tuple[tuple[str, float, float, bool], ...]] = (("ms", 1, _MAX_DELAY_MS, True),)

    def _what(self) -> str:
        return f"{self.ms}ms"

    def rule(self) -> HttpRule:
        from ..clients.envoy import HttpRule

        return HttpRule("delay", percent=float(self.percent), path=self.path, method=self.method, delay_ms=self.ms)

    @classmethod
    def draw(cls, ctx: DrawContext) -> Any:
        from hypothesis import strategies as st

        top = max(1, ctx.horizon_ms)
        return cls._per_http_edge(ctx, lambda e: st.builds(
            lambda ms: cls(e, ms=ms), st.integers(1, top // 50).map(lambda n: n * 50)))


@register_fault_kind
@dataclass(frozen=True)
class HttpReplace(HttpFault):
    """The request reaches the callee (it does the work), and the caller gets `status`/`body`/`headers` instead."""

    status: int
    body: Any = b""
    headers: Any = field(default_factory=dict)
    percent: float = 100.0
    path: str | None = None
    method: str | None = None

    kind: ClassVar[str] = "http_replace"
    usage: ClassVar[str] = "status=N [body=TEXT|JSON|@file] [headers=JSON] [percent=P] [path=/x/*] [method=GET]"

    answers: ClassVar[bool] = True

    def rule(self) -> HttpRule:
        from ..clients.envoy import HttpRule

        return HttpRule("replace", self.status, self.body, dict(self.headers), float(self.percent), self.path,
                        self.method)

    @classmethod
    def draw(cls, ctx: DrawContext) -> Any:
        from hypothesis import strategies as st

        # the callee's work done, its answer lost on the way back (a classic partial failure)
        return cls._per_http_edge(ctx, lambda e: st.sampled_from([cls(e, status=s) for s in (502, 504)]))
