"""config: the versioned config store every other service polls; it stores any bytes and validates nothing.

Protocol (what the harness's config-push client speaks):

    GET  /config            -> 200 {"version": n, "document": <raw parsed as JSON, or null>, "raw": "<text>"}
                               (ETag "v<n>-<sha>"; If-None-Match with it -> 304, for the 100 ms pollers)
    PUT  /config            -> 201 {"version": n}      body: raw bytes; Authorization: Bearer <token>;
                                                        optional x-config-note
    POST /config/rollback   -> 201 {"version": n}      body {"to_version": m}; a new version equal to m
    GET  /config/history    -> 200 [{"version", "note", "at", "sha256", "bytes"}, ...]

Validation is the consumers' job, as in the real systems: that is what makes a bad push
meaningful. State is in memory: a restart of this service resets it to version 1 (the default).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from services.common.runtime import Runtime, main
from services.common.web import json_response

__all__ = ["ConfigStore", "StoredVersion", "build"]

MAX_BYTES = 1 << 20


@dataclass(frozen=True)
class StoredVersion:
    """One stored version: the exact bytes pushed, with who-what-when metadata."""

    version: int
    raw: bytes
    note: str
    at: str
    sha256: str

    @property
    def etag(self) -> str:
        return f'"v{self.version}-{self.sha256[:12]}"'

    def body(self) -> bytes:
        """The GET /config answer for this version."""
        text = self.raw.decode("utf-8", errors="replace")
        try:
            document = json.loads(text)
        except ValueError:
            document = None
        return json.dumps({"version": self.version, "document": document, "raw": text},
                          separators=(",", ":"), ensure_ascii=False).encode()

    def summary(self) -> dict[str, Any]:
        return {"version": self.version, "note": self.note, "at": self.at, "sha256": self.sha256,
                "bytes": len(self.raw)}


class ConfigStore:
    """The ordered versions; the last one is current."""

    def __init__(self, initial: bytes, *, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.versions: list[StoredVersion] = []
        self.put(initial, "initial default")

    @property
    def current(self) -> StoredVersion:
        return self.versions[-1]

    def put(self, raw: bytes, note: str) -> StoredVersion:
        at = datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="milliseconds")
        v = StoredVersion(len(self.versions) + 1, raw, note, at, hashlib.sha256(raw).hexdigest())
        self.versions.append(v)
        return v

    def rollback(self, to_version: int) -> StoredVersion:
        """A new version with the content of `to_version`; KeyError if there is no such version."""
        if not 1 <= to_version <= len(self.versions):
            raise KeyError(to_version)
        return self.put(self.versions[to_version - 1].raw, f"rollback to version {to_version}")


def build(environ: Any = None) -> tuple[Runtime, Any]:
    """The config service's runtime and app."""
    from starlette.responses import Response
    from starlette.routing import Route

    rt = Runtime("config", (), environ=environ, consumes_config=False, needs_token=True)
    store = ConfigStore(_default_raw())
    rt.version_override = lambda: store.current.version
    token = rt.env.config_token.encode()

    def authorised(request: Any) -> bool:
        given = request.headers.get("authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token)

    def refuse() -> Any:
        return json_response({"error": "config push needs a valid bearer token"}, 401)

    async def get_config(request: Any) -> Any:
        cur = store.current
        if request.headers.get("if-none-match") == cur.etag:
            return Response(status_code=304, headers={"etag": cur.etag})
        return Response(cur.body(), 200, headers={"etag": cur.etag}, media_type="application/json")

    async def put_config(request: Any) -> Any:
        if not authorised(request):
            return refuse()
        raw = await request.body()
        if len(raw) > MAX_BYTES:
            return json_response({"error": f"a config document may be at most {MAX_BYTES} bytes"}, 413)
        v = store.put(raw, request.headers.get("x-config-note", ""))
        return json_response({"version": v.version}, 201)

    async def rollback(request: Any) -> Any:
        if not authorised(request):
            return refuse()
        try:
            to = json.loads(await request.body())["to_version"]
            if isinstance(to, bool) or not isinstance(to, int):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            return json_response({"error": 'rollback needs a JSON body {"to_version": <int>}'}, 400)
        try:
            v = store.rollback(to)
        except KeyError:
            return json_response(
                {"error": f"no config version {to}; versions are 1..{store.current.version}"}, 404)
        return json_response({"version": v.version}, 201)

    async def history(request: Any) -> Any:
        return json_response([v.summary() for v in store.versions])

    return rt, rt.app([
        Route("/config", get_config, methods=["GET"]),
        Route("/config", put_config, methods=["PUT"]),
        Route("/config/rollback", rollback, methods=["POST"]),
        Route("/config/history", history, methods=["GET"]),
    ])


def _default_raw() -> bytes:
    from services.common.config_default import DEFAULT_DOCUMENT

    return json.dumps(DEFAULT_DOCUMENT, indent=2).encode()


if __name__ == "__main__":
    main(build)
