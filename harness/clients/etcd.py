"""A small client of etcd's v3 JSON gateway (HTTP; etcd 3.4): get, put, delete, compare-and-put, health.

The gateway (grpc-gateway in front of etcd's gRPC KV service) speaks proto3 JSON, which shapes
every request and answer:

    POST /v3/kv/range        {"key": b64}                 -> {"header": {"revision": "7", ...}, "kvs": [...], "count": "1"}
    POST /v3/kv/put          {"key": b64, "value": b64}   -> {"header": {"revision": "8", ...}}
    POST /v3/kv/deleterange  {"key": b64}                 -> {"header": {"revision": "9", ...}, "deleted": "1"}
    POST /v3/kv/txn          {"compare": [...], "success": [...]} -> {"header": {...}, "succeeded": true, ...}
    GET  /health                                          -> {"health": "true"}

- keys and values are base64; int64 fields (revisions, versions, counts) are JSON strings;
- a field at its default value is left out: a range of an absent key has no "kvs" (and no
  "count"), an empty value has no "value", a refused txn has no "succeeded", a delete of
  nothing has no "deleted";
- a refusal is a non-200 status with {"error", "message", "code"} (code is the gRPC code;
  3 = invalid argument, e.g. a value over etcd's 1.5 MiB request limit, answered 400); a body
  over the gateway's own 2 MiB gRPC limit is answered 429 before etcd sees it;
- etcd 3.3 served the gateway under /v3beta/ and 3.2 under /v3alpha/ (3.4 has /v3/ and
  /v3beta/, no /v3alpha/): a 404 names the version to check.

The request bodies and the reading of answers are pure functions here, so they are tested
without a server; `EtcdClient` sends them with harness.clients.probe.http_request (one fresh
connection per call, a timeout on every call) and raises ConfigPushError on any failure.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlsplit

from ..errors import ConfigPushError, UsageError
from .probe import Response, http_request

__all__ = [
    "EtcdClient",
    "EtcdValue",
    "delete_request",
    "parse_revision",
    "parse_succeeded",
    "parse_value",
    "put_if_request",
    "put_request",
    "range_request",
]

# revision() ranges over this one key, count_only: the answer's header carries the store's revision.
_REVISION_KEY = "\x00"

_HINTS = {
    400: "etcd refused the request as malformed",
    404: "no /v3/ gateway there: is it etcd 3.4 or later (3.3 serves /v3beta/, 3.2 /v3alpha/)?",
    # gRPC's RESOURCE_EXHAUSTED: a request over the gateway's 2 MiB gRPC message limit, or etcd overloaded
    429: "the request is over the gateway's 2 MiB limit, or etcd has too many requests in flight",
}


@dataclass(frozen=True)
class EtcdValue:
    """One key's value as etcd stores it, with the revisions that say when it was written."""

    value: bytes
    mod_revision: int  # the store revision of the key's last write
    version: int  # how many times the key was written since it was (re)created
    create_revision: int  # the store revision that created the key


# -- pure parts: request bodies -------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _key(key: str) -> str:
    if not isinstance(key, str) or not key:
        raise UsageError(f"an etcd key must be a non-empty str, got {key!r}")
    return _b64(key.encode())


def _value(value: bytes) -> str:
    if not isinstance(value, (bytes, bytearray)):
        raise UsageError(f"an etcd value must be bytes, got {type(value).__name__} {value!r:.60}")
    return _b64(bytes(value))


def range_request(key: str, *, count_only: bool = False) -> dict[str, Any]:
    """The body of POST /v3/kv/range for one key (count_only: only the count and the header)."""
    body: dict[str, Any] = {"key": _key(key)}
    if count_only:
        body["count_only"] = True
    return body


def put_request(key: str, value: bytes) -> dict[str, Any]:
    """The body of POST /v3/kv/put."""
    return {"key": _key(key), "value": _value(value)}


def delete_request(key: str) -> dict[str, Any]:
    """The body of POST /v3/kv/deleterange for one key."""
    return {"key": _key(key)}


def put_if_request(key: str, value: bytes, *, mod_revision: int) -> dict[str, Any]:
    """The body of POST /v3/kv/txn: put only if the key's mod_revision is still `mod_revision` (0: absent)."""
    if isinstance(mod_revision, bool) or not isinstance(mod_revision, int) or mod_revision < 0:
        raise UsageError(f"put_if's mod_revision must be an int >= 0 (0: the key is absent), got {mod_revision!r}")
    return {
        # int64 as a string, the way proto3 JSON spells it (the gateway takes numbers too)
        "compare": [{"key": _key(key), "target": "MOD", "result": "EQUAL", "mod_revision": str(mod_revision)}],
        "success": [{"request_put": put_request(key, value)}],
    }


# -- pure parts: answers --------------------------------------------------------------------------


class _Malformed(ValueError):
    """An answer that is not shaped like etcd's gateway's."""


def _int64(obj: dict[str, Any], name: str) -> int:
    """An int64 field: a JSON string (or a number), 0 when left out."""
    raw = obj.get(name, 0)
    if isinstance(raw, bool) or not isinstance(raw, (str, int)):
        raise _Malformed(f"{name} is {raw!r}, not an int64")
    try:
        return int(raw)
    except ValueError:
        raise _Malformed(f"{name} is {raw!r}, not an int64") from None


def _object(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _Malformed(f"{what} is {type(data).__name__}, not an object")
    return data


def parse_revision(answer: Any) -> int:
    """The store revision in an answer's header (every KV answer has one)."""
    header = _object(_object(answer, "the answer").get("header"), "its header")
    revision = _int64(header, "revision")
    if revision <= 0:
        raise _Malformed(f"the header has no revision: {header!r}")
    return revision


def parse_value(answer: Any) -> EtcdValue | None:
    """The one key in a range answer, or None when the key is absent (no "kvs" at all)."""
    parse_revision(answer)  # every range answer has a header: without one, it is not etcd's
    kvs = answer.get("kvs", [])
    if not isinstance(kvs, list):
        raise _Malformed(f"kvs is {type(kvs).__name__}, not a list")
    if not kvs:
        return None
    kv = _object(kvs[0], "kvs[0]")
    raw = kv.get("value", "")  # an empty value is left out
    if not isinstance(raw, str):
        raise _Malformed(f"value is {raw!r}, not base64 text")
    try:
        value = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _Malformed(f"value {raw[:60]!r} is not base64") from None
    return EtcdValue(value=value, mod_revision=_int64(kv, "mod_revision"), version=_int64(kv, "version"),
                     create_revision=_int64(kv, "create_revision"))


def parse_succeeded(answer: Any) -> bool:
    """Whether a txn's compare held; a refused txn leaves "succeeded" out."""
    parse_revision(answer)  # every txn answer has a header: without one, it is not etcd's
    succeeded = answer.get("succeeded", False)
    if not isinstance(succeeded, bool):
        raise _Malformed(f"succeeded is {succeeded!r}, not a bool")
    return succeeded


# -- the client -----------------------------------------------------------------------------------


class EtcdClient:
    """One etcd's v3 JSON gateway: every call has a timeout, every failure raises ConfigPushError."""

    def __init__(self, endpoint: str, *, timeout_s: float = 3.0,
                 request: Callable[..., Response] = http_request) -> None:
        parts = urlsplit(endpoint)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or not parts.hostname or port is None or parts.path not in ("", "/"):
            raise UsageError(f"an etcd endpoint must look like http://127.0.0.1:2379, got {endpoint!r}")
        if timeout_s <= 0:
            raise UsageError(f"EtcdClient.timeout_s must be > 0, got {timeout_s}")
        self.endpoint = endpoint.rstrip("/")
        self.host, self.port, self.timeout_s = parts.hostname, port, timeout_s
        self._request = request

    def __repr__(self) -> str:
        return f"EtcdClient({self.endpoint!r})"

    def get(self, key: str) -> EtcdValue | None:
        """The key's value and revisions, or None if the key is absent."""
        return self._post("/v3/kv/range", range_request(key), f"read key {key!r}", parse_value)

    def put(self, key: str, value: bytes) -> int:
        """Write the key; returns the store revision of the write."""
        return self._post("/v3/kv/put", put_request(key, value), f"write key {key!r}", parse_revision)

    def delete(self, key: str) -> int:
        """Delete the key (absent is fine); returns the store revision after it."""
        return self._post("/v3/kv/deleterange", delete_request(key), f"delete key {key!r}", parse_revision)

    def revision(self) -> int:
        """The store's current revision."""
        return self._post("/v3/kv/range", range_request(_REVISION_KEY, count_only=True),
                          "read the store revision", parse_revision)

    def put_if(self, key: str, value: bytes, *, mod_revision: int) -> bool:
        """Write the key only if its mod_revision is still `mod_revision` (0: only if absent); True if written."""
        body = put_if_request(key, value, mod_revision=mod_revision)
        return self._post("/v3/kv/txn", body, f"write key {key!r} if its mod_revision is {mod_revision}",
                          parse_succeeded)

    def health(self) -> str:
        """'' if GET /health answers {"health": "true"}, else what is wrong (never raises)."""
        r = self._request(self.host, self.port, "GET", "/health", timeout_s=self.timeout_s)
        if r.status is None:
            return f"etcd at {self.endpoint} did not answer GET /health ({r.error}); is etcd running on {self.endpoint}?"
        try:
            answer = r.json()
        except ValueError:
            answer = None
        if r.status == 200 and isinstance(answer, dict) and answer.get("health") == "true":
            return ""
        return f"etcd at {self.endpoint} answered GET /health with {r.status}: {_text(r.body)}"

    def _post(self, path: str, body: dict[str, Any], doing: str, parse: Callable[[Any], Any]) -> Any:
        r = self._request(self.host, self.port, "POST", path, json=body, timeout_s=self.timeout_s)
        if r.status is None:
            raise ConfigPushError(f"could not {doing}: etcd at {self.endpoint} did not answer POST {path} "
                                  f"({r.error}); is etcd running on {self.endpoint}?")
        if r.status != 200:
            hint = _HINTS.get(r.status, f"see etcd's log; is etcd healthy ({self.endpoint}/health)?")
            raise ConfigPushError(f"could not {doing}: etcd at {self.endpoint} answered POST {path} with "
                                  f"{r.status}: {_error_text(r.body)}; {hint}")
        try:
            return parse(r.json())
        except ValueError as exc:  # not JSON (json.JSONDecodeError) or not shaped like etcd's (_Malformed)
            raise ConfigPushError(f"could not {doing}: etcd at {self.endpoint} answered POST {path} with 200 but "
                                  f"{exc if isinstance(exc, _Malformed) else 'a body that is not JSON'} "
                                  f"({_text(r.body)}); is {self.endpoint} really etcd's client URL?") from None


def _text(body: bytes, limit: int = 200) -> str:
    text = body.decode(errors="replace").strip()
    return repr(text[:limit]) + ("..." if len(text) > limit else "") if text else "(empty body)"


def _error_text(body: bytes) -> str:
    """The gateway's error message ({"error", "message", "code"}), else the body itself."""
    try:
        data = json.loads(body)
    except ValueError:
        return _text(body)
    if isinstance(data, dict) and isinstance(data.get("message") or data.get("error"), str):
        return str(data.get("message") or data.get("error"))
    return _text(body)
