"""The "http" config source: a client of the config-service protocol that bad-config faults push through.

The protocol a `[config.X] kind = "http"` source's service (or `mesh.config_service`) must speak,
described for service authors in docs/config-faults.md ("The config-service protocol"); the
bundled `config` service speaks it:

    GET  /config                 -> 200 {"version": n, "document": {...} | null, "raw": "<text>"}
    PUT  /config                 -> 201 {"version": n}   body: raw document bytes (any bytes)
         Authorization: Bearer <CASCADE_CONFIG_TOKEN>     x-config-note: <why>
    POST /config/rollback        -> 201 {"version": n}   body: {"to_version": m}
    GET  /config/history         -> 200 [{"version", "note", "at", "sha256", "bytes"}, ...]

The token is generated per mesh and handed to the services in CASCADE_CONFIG_TOKEN; it is
never printed (errors show the status and the service's error text, never the header). Whether
the consumers applied a version is asked of each of them through the applied-version protocol
(applied.py, docs/service-protocol.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ConfigPushError, UsageError, VerificationFailed
from ..clients.probe import Response, http_request
from .applied import consumers_applied
from .base import Applied, ConfigVersion, register_config_source

if TYPE_CHECKING:
    from ..topology import ConfigSourceSpec
    from .base import Mesh

__all__ = ["ConfigClient", "ConfigVersion", "http_source"]


class ConfigClient:
    """Pushes, reads and rolls back config documents on a mesh's config service (a ConfigSource)."""

    def __init__(self, host: str, port: int, token: str, *, timeout_s: float = 3.0,
                 consumers: Callable[[int], Applied] | None = None) -> None:
        self.host, self.port, self._token, self.timeout_s = host, port, token, timeout_s
        self._consumers = consumers

    def __repr__(self) -> str:  # never show the token
        return f"ConfigClient({self.host}:{self.port})"

    def current(self) -> ConfigVersion:
        r = self._call("GET", "/config", what="read the current config")
        data = _json(r, "GET /config")
        return ConfigVersion(int(data["version"]), str(data.get("raw", "")), data.get("document"))

    def history(self) -> list[dict[str, Any]]:
        r = self._call("GET", "/config/history", what="read the config history")
        return list(_json(r, "GET /config/history"))

    def push(self, raw: str, *, note: str = "") -> int:
        """Store `raw` as a new version; verified by reading it back; returns the version."""
        r = self._call("PUT", "/config", body=raw.encode(), note=note, what="push a config document")
        version = int(_json(r, "PUT /config")["version"])
        self._verify(version, raw)
        return version

    def rollback(self, to_version: int, *, expect_raw: str | None = None) -> int:
        """Make version `to_version` current again (as a new version); verified."""
        body = json.dumps({"to_version": to_version}).encode()
        r = self._call("POST", "/config/rollback", body=body, what=f"roll config back to version {to_version}")
        version = int(_json(r, "POST /config/rollback")["version"])
        if expect_raw is not None:
            self._verify(version, expect_raw)
        return version

    def applied(self, version: int) -> Applied:
        """Which consumers run `version` (asked of each through the applied-version protocol)."""
        if self._consumers is None:
            raise UsageError(f"{self!r} was built without the mesh's consumers, so it cannot tell who applied "
                             f"version {version}; get the client from mesh.config()")
        return self._consumers(version)

    def _verify(self, version: int, raw: str) -> None:
        cur = self.current()
        if cur.version != version or cur.raw != raw:
            raise VerificationFailed(
                f"config service accepted version {version} but now serves version {cur.version}"
                + ("" if cur.raw == raw else " with different content")
            )

    def _call(self, method: str, path: str, *, what: str, body: bytes | None = None, note: str = "") -> Response:
        headers = {"authorization": f"Bearer {self._token}"}
        if note:
            headers["x-config-note"] = note
        r = http_request(self.host, self.port, method, path, headers=headers, body=body, timeout_s=self.timeout_s)
        if r.status is None:
            raise ConfigPushError(
                f"could not {what}: config service at {self.host}:{self.port} did not answer ({r.error}); "
                "is the config service running and not paused?"
            )
        if not 200 <= r.status < 300:
            raise ConfigPushError(
                f"could not {what}: config service answered {r.status}: {r.body[:300].decode(errors='replace')}"
            )
        return r


def _json(r: Response, what: str) -> Any:
    try:
        return r.json()
    except ValueError:
        raise ConfigPushError(f"{what} answered {r.status} with a body that is not JSON: {r.body[:200]!r}") from None


@register_config_source("http")
def http_source(mesh: Mesh, spec: ConfigSourceSpec | None = None) -> ConfigClient:
    """A [config.X] kind = "http" source, or the topology's [mesh] config_service, spoken to over the protocol above."""
    svc = spec.service if spec is not None else mesh.topology.config_service
    if not svc:
        raise UsageError("this topology declares no config source: add a [config.NAME] table (kind = \"file\", "
                         "\"env\", \"etcd\" or \"http\"; docs/config-faults.md), or config_service = \"<service>\" "
                         "under [mesh] for a service speaking the config-service protocol")
    host, port = mesh.address(svc)
    return ConfigClient(host, port, mesh.runtime.secret,
                        consumers=lambda version: consumers_applied(
                            mesh, version, source_service=svc,
                            consumers=spec.consumers if spec is not None and spec.consumers else None))
