"""A kept-alive HTTP/1.1 transport for control-plane APIs (Toxiproxy), swappable for a fake in unit tests."""

from __future__ import annotations

import http.client
import socket
import threading
from typing import Protocol

__all__ = ["HTTPTransport", "Transport"]


class Transport(Protocol):
    """Sends one HTTP request and returns (status, body); raises OSError when the server cannot be reached."""

    def request(self, method: str, path: str, body: bytes | None, timeout_s: float) -> tuple[int, bytes]:
        """Send `method path` with an optional JSON body and return the status and the whole body."""
        ...


class HTTPTransport:
    """Stdlib HTTP/1.1 over one persistent keep-alive connection, reopened once if the server dropped it."""

    def __init__(self, host: str, port: int) -> None:
        self._host = host
        self._port = port
        self._conn: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()

    def request(self, method: str, path: str, body: bytes | None, timeout_s: float) -> tuple[int, bytes]:
        """Send one request on the shared connection; a stale kept-alive connection is retried once."""
        with self._lock:
            reused = self._conn is not None
            try:
                return self._exchange(method, path, body, timeout_s)
            except (BrokenPipeError, ConnectionAbortedError, ConnectionResetError):
                # The Go server closes idle connections after 60 s; a request that hit such a
                # connection never reached a handler, so sending it once more is safe.
                self.close()
                if not reused:
                    raise
            except BaseException:
                self.close()
                raise
            try:
                return self._exchange(method, path, body, timeout_s)
            except BaseException:
                self.close()
                raise

    def close(self) -> None:
        """Close the connection; the next request opens a new one."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _exchange(self, method: str, path: str, body: bytes | None, timeout_s: float) -> tuple[int, bytes]:
        if self._conn is None:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=timeout_s)
            conn.connect()
            # Small request/response pairs: without NODELAY, Nagle plus delayed ACKs can add 40 ms.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        else:
            self._conn.sock.settimeout(timeout_s)
        headers = {"Accept": "application/json", "User-Agent": "cascade-harness"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        self._conn.request(method, path, body=body, headers=headers)
        response = self._conn.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        return response.status, data
