"""One HTTP request to a mesh service over loopback, timed, never raising for network trouble."""

from __future__ import annotations

import http.client
import json as jsonlib
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

__all__ = ["Response", "http_request", "tcp_open"]


@dataclass(frozen=True)
class Response:
    """What came back: status (None if nothing did), headers, body, elapsed time, transport error."""

    status: int | None
    elapsed_ms: float
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    error: str = ""
    timed_out: bool = False

    def json(self) -> Any:
        return jsonlib.loads(self.body)


def http_request(
    host: str,
    port: int,
    method: str = "GET",
    path: str = "/",
    *,
    headers: Mapping[str, str] | None = None,
    json: Any = None,
    body: bytes | None = None,
    timeout_s: float = 5.0,
    clock: Callable[[], float] = time.monotonic,
) -> Response:
    """Send one request on a fresh connection (no pooling: each journey pays its own connect)."""
    hdrs = dict(headers or {})
    if json is not None:
        body = jsonlib.dumps(json).encode()
        hdrs.setdefault("content-type", "application/json")
    start = clock()
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        data = resp.read()
        return Response(
            status=resp.status,
            elapsed_ms=(clock() - start) * 1000,
            body=data,
            headers={k.lower(): v for k, v in resp.getheaders()},
        )
    except (socket.timeout, TimeoutError):
        return Response(None, (clock() - start) * 1000, error=f"timed out after {timeout_s * 1000:.0f} ms", timed_out=True)
    except ConnectionRefusedError:
        return Response(None, (clock() - start) * 1000, error="connection refused")
    except (ConnectionError, http.client.HTTPException, OSError) as exc:
        return Response(None, (clock() - start) * 1000, error=f"{type(exc).__name__}: {exc}".rstrip(": "))
    finally:
        conn.close()


def tcp_open(host: str, port: int, timeout_s: float = 0.5) -> str:
    """'' if a TCP connection to host:port opens, else the error text."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return ""
    except OSError as exc:
        return exc.strerror or str(exc)
