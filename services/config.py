"""config: the versioned config store every other service polls; it stores any bytes and validates nothing.

Protocol (what the harness's config-push client speaks):

    GET  /config            -> 200 {"version": n, "document": <raw parsed as JSON, or null>, "raw": "<text>"}
                               (ETag "v<n>-<sha>"; If-None-Match with it -> 304, for the 100 ms pollers)
    PUT  /config            -> 201 {"version": n}      body: raw bytes; Authorization: Bearer <token>;
                                                        optional x-config-note
    POST /config/rollback   -> 201 {"version": n}      body {"to_version": m}; a new version equal to m
    GET  /config/history    -> 200 [{"version", "note", "at", "sha256", "bytes"}, ...]

Validation is the consumers' job, as in the real systems: that is what makes a bad push
meaningful. Every version is appended to $CASCADE_DATA_DIR/config-versions.jsonl and fsynced
before the push is acknowledged, and read back at start: a killed and restarted config service
serves the version it served before, never an older one (an acknowledged push is never lost).
Without CASCADE_DATA_DIR the versions live in memory only and a restart is back at version 1.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from services.common.runtime import Runtime, main
from services.common.web import json_response

__all__ = ["ConfigStore", "StoredVersion", "build"]

MAX_BYTES = 1 << 20
STORE_FILE = "config-versions.jsonl"
log = logging.getLogger(__name__)


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
    """The ordered versions; the last one is current. With `path`, each is on disk before `put` returns."""

    def __init__(self, initial: bytes, *, path: Path | None = None, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.path = path
        self.versions: list[StoredVersion] = self._load() if path is not None else []
        if not self.versions:
            self.put(initial, "initial default")

    def _load(self) -> list[StoredVersion]:
        """The versions in the store file; a torn last line (killed mid-append, never acknowledged) is cut off."""
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        versions: list[StoredVersion] = []
        good = 0
        for line in data.splitlines(keepends=True):
            try:
                if not line.endswith(b"\n"):
                    raise ValueError("no newline")
                d = json.loads(line)
                v = StoredVersion(int(d["version"]), base64.b64decode(d["raw"]), d["note"], d["at"], d["sha256"])
                if v.version != len(versions) + 1 or hashlib.sha256(v.raw).hexdigest() != v.sha256:
                    raise ValueError("out of order or corrupt")
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("config store %s: dropping everything after version %d (%s)", self.path,
                            len(versions), exc)
                with open(self.path, "r+b") as f:
                    f.truncate(good)
                break
            versions.append(v)
            good += len(line)
        return versions

    def _append(self, v: StoredVersion) -> None:
        assert self.path is not None
        line = json.dumps({"version": v.version, "raw": base64.b64encode(v.raw).decode(), "note": v.note,
                           "at": v.at, "sha256": v.sha256}) + "\n"
        with open(self.path, "ab") as f:
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())

    @property
    def current(self) -> StoredVersion:
        return self.versions[-1]

    def put(self, raw: bytes, note: str) -> StoredVersion:
        at = datetime.fromtimestamp(self.clock(), timezone.utc).isoformat(timespec="milliseconds")
        v = StoredVersion(len(self.versions) + 1, raw, note, at, hashlib.sha256(raw).hexdigest())
        if self.path is not None:
            self._append(v)  # on disk before anyone is told the version exists
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
    store = ConfigStore(_default_raw(), path=_store_path(rt.env.data_dir))
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


def _store_path(data_dir: str) -> Path | None:
    if not data_dir:
        log.warning("CASCADE_DATA_DIR is not set: config versions live in memory and a restart loses them")
        return None
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path / STORE_FILE


def _default_raw() -> bytes:
    from services.common.config_default import DEFAULT_DOCUMENT

    return json.dumps(DEFAULT_DOCUMENT, indent=2).encode()


if __name__ == "__main__":
    main(build)
