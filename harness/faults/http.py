"""HTTP faults: one HTTP edge's answers changed by the HTTP engine (Envoy) beside its Toxiproxy proxy.

    HttpError   the caller gets `status` (and `body`, `headers`) without the request reaching the callee

Only on an HTTP edge (its URL template is http://...): a Redis or other TCP edge is refused by
name. The engine serves each edge's rules in front of its route to the callee
(harness/clients/envoy.py); apply adds this fault's rule, undo removes exactly it, both read
back from Envoy.
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
    from ..mesh import Mesh
    from ..topology import Topology

__all__ = ["HttpError"]

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


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


@register_fault_kind
@dataclass(frozen=True)
class HttpError(EdgeFault):
    """The caller's requests on the edge answered `status` (with `body`, `headers`) by the engine; the callee sees none."""

    status: int
    body: Any = b""
    headers: Any = field(default_factory=dict)
    percent: float = 100.0
    path: str | None = None
    method: str | None = None

    kind: ClassVar[str] = "http_error"
    family: ClassVar[str] = "http"
    usage: ClassVar[str] = "status=N [body=TEXT|JSON|@file] [percent=P] [path=/x/*] [method=GET]"

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        if isinstance(self.status, bool) or not isinstance(self.status, int) or not 200 <= self.status <= 599:
            raise InvalidFault(f"{owner}.status must be an HTTP status 200..599, got {self.status!r}")
        if not isinstance(self.headers, dict) and not isinstance(self.headers, tuple):
            raise InvalidFault(f"{owner}.headers must map header names to values, got {self.headers!r:.60}")
        headers = {str(k).lower(): str(v) for k, v in dict(self.headers).items()}
        object.__setattr__(self, "body", _body(owner, self.body, headers))
        object.__setattr__(self, "headers", tuple(sorted(headers.items())))
        if isinstance(self.percent, bool) or not isinstance(self.percent, (int, float)) or not 0 < self.percent <= 100:
            raise InvalidFault(f"{owner}.percent must be in (0, 100], got {self.percent!r}")
        if self.path is not None and (not isinstance(self.path, str) or not self.path.startswith("/")):
            raise InvalidFault(f"{owner}.path must start with '/' (a trailing * matches a prefix), got {self.path!r}")
        if self.method is not None:
            if not isinstance(self.method, str) or self.method.upper() not in _METHODS:
                raise InvalidFault(f"{owner}.method must be one of {', '.join(_METHODS)}, got {self.method!r}")
            object.__setattr__(self, "method", self.method.upper())

    @classmethod
    def from_spec(cls, target: str, **params: Any) -> HttpError:
        """As the CLI and journals build it; `body=@file` reads the file's bytes."""
        body = params.get("body")
        if isinstance(body, str) and body.startswith("@"):
            try:
                params["body"] = Path(body[1:]).read_bytes()
            except OSError as exc:
                raise InvalidFault(f"http_error body={body}: cannot read {body[1:]!r}: {exc.strerror or exc}") from None
        return super().from_spec(target, **params)  # type: ignore[no-any-return]

    def params(self) -> dict[str, Any]:
        return {"status": self.status, "body": self.body.decode("utf-8", "replace"), "headers": dict(self.headers),
                "percent": self.percent, "path": self.path, "method": self.method}

    def describe(self) -> str:
        extra = [f"{self.percent:g}%"] if self.percent < 100 else []
        extra += [w for w in (self.method, self.path) if w]
        return f"HttpError({self.edge}, {self.status}{', ' if extra else ''}{' '.join(extra)})"

    def validate(self, topology: Topology) -> None:
        super().validate(topology)
        edge = topology.edge(self.edge)
        if not edge.url.startswith("http://"):
            raise InvalidFault(f"{self.describe()}: {self.edge} is not an HTTP edge (its url is {edge.url!r}); "
                               "HTTP faults go on HTTP edges, TCP faults (Latency, Down, ...) on any edge")

    def exclusive_key(self, config_service: str | None = None) -> tuple[str, str]:
        return ("http", self.edge)  # one HTTP fault per edge at a time while exploring: their rules would shadow

    def rule(self) -> Any:
        from ..clients.envoy import HttpRule

        return HttpRule(self.status, self.body, dict(self.headers), float(self.percent), self.path, self.method)

    def apply(self, mesh: Mesh) -> Undo:
        (edge,) = self.edges(mesh.topology)
        engine = getattr(mesh.runtime, "engine", None)
        if engine is None or edge not in engine.edges:
            raise InvalidFault(f"{self.describe()}: the {mesh.runtime.name} runtime runs no HTTP engine on {edge}; "
                               "start the mesh with CASCADE_HTTP_ENGINE=1 (local runtime)")
        rule = self.rule()
        engine.add_rule(edge, rule)
        return lambda: engine.remove_rule(edge, rule)

    @classmethod
    def draw(cls, ctx: DrawContext) -> Any:
        from hypothesis import strategies as st

        http = sorted(e for e, edge in ctx.topology.edges.items() if edge.url.startswith("http://"))
        if not http:
            return None
        return st.one_of(*(st.builds(lambda s, e=e: cls(e, status=s), st.sampled_from([503, 500, 404, 403]))
                           for e in http))
