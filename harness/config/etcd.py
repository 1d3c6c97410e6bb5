"""The "etcd" config source: one key of a real etcd (v3 API, through its JSON gateway), snapshotted and restored.

    [config.flags]
    kind = "etcd"
    consumers = ["gateway", "auth"]
    endpoints = "http://{etcd}"      # the topology's etcd service, or "http://127.0.0.1:2379"
    key = "/chirp/flags"
    format = "json"                  # json | yaml | toml | raw
    applied = { http = "GET /flags/version", within_ms = 1000 }   # answers the key's revision or sha256

Before the first push the key's value (or its absence) and mod_revision go into the run-state
record. A revert writes the original back only if the key still holds what Cascade wrote (a
transaction on its mod_revision), so a write someone made since is never clobbered. A consumer
may show it runs a push by the key's mod_revision as well as by the value's sha256.

An etcd the mesh runs itself ({service}) keeps its data in the run's folder, so a crashed
runner's bad value ends with that etcd; one on 127.0.0.1 outside the mesh is restored by the next
run or `cascade cleanup`, like a file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from ..clients.etcd import EtcdClient
from ..errors import ConfigPushError, VerificationFailed
from ..runtime.runstate import register_reaper
from .base import register_config_source
from .stored import StoredSource, sha256, unb64

if TYPE_CHECKING:
    from ..topology import ConfigSourceSpec
    from .base import Mesh

__all__ = ["EtcdSource", "etcd_source", "reap_etcd_key"]

RESOURCE = "config_etcd"


class EtcdSource(StoredSource):
    """One etcd key; versions are the harness's, each remembered with the store's mod_revision."""

    resource_kind = RESOURCE

    def __init__(self, mesh: Mesh, spec: ConfigSourceSpec) -> None:
        super().__init__(mesh, spec)
        m = re.fullmatch(r"http://\{([a-z][a-z0-9_-]*)\}", spec.endpoints)
        self.service = m.group(1) if m else ""
        self._mod_revision = 0  # of the key as last read or written; 0: absent

    @property
    def endpoint(self) -> str:
        """etcd's client URL now (an etcd of the mesh moves when its container restarts on compose)."""
        if self.service:
            host, port = self.mesh.address(self.service)
            return f"http://{host}:{port}"
        return self.spec.endpoints

    @property
    def client(self) -> EtcdClient:
        return EtcdClient(self.endpoint)

    def describe(self) -> str:
        return f"key {self.spec.key} of etcd {self.endpoint}"

    def _where(self) -> dict[str, Any]:
        return {"endpoint": self.endpoint, "key": self.spec.key, "mesh_service": self.service}

    def _read(self) -> bytes | None:
        value = self.client.get(self.spec.key)
        self._mod_revision = value.mod_revision if value is not None else 0
        return value.value if value is not None else None

    def _write(self, data: bytes | None) -> None:
        if data is None:
            self.client.delete(self.spec.key)
            self._mod_revision = 0
            return
        if not self.client.put_if(self.spec.key, data, mod_revision=self._mod_revision):
            raise VerificationFailed(f"config.{self.spec.name}: {self.describe()} changed since Cascade read it "
                                     "(someone else wrote it); not overwriting their value")

    def _revision(self) -> int | None:
        value = self.client.get(self.spec.key)
        self._mod_revision = value.mod_revision if value is not None else 0
        return self._mod_revision or None


def reap_etcd_key(resource: dict[str, Any]) -> str | None:
    """Put a dead runner's etcd key back if it still holds what Cascade wrote; an etcd of its mesh ended with it."""
    name, key = resource.get("source", "?"), str(resource.get("key", ""))
    if resource.get("mesh_service"):
        return f"bad config of config.{name} ({key}) ended with its mesh's etcd"
    client = EtcdClient(str(resource["endpoint"]))
    now = client.get(key)  # unreachable: ConfigPushError keeps the record for the next run
    original = unb64(resource.get("original"))
    held = now.value if now is not None else None
    if held == original:
        return None
    if sha256(held) != resource.get("pushed_sha256"):
        return f"left {key} of etcd {resource['endpoint']} (config.{name}) as it is: it changed after Cascade's push"
    if original is None:
        client.delete(key)
    elif not client.put_if(key, original, mod_revision=now.mod_revision if now is not None else 0):
        return f"left {key} of etcd {resource['endpoint']} (config.{name}) as it is: written again while restoring"
    return f"restored {key} of etcd {resource['endpoint']} (config.{name}) to its value before the push"


register_reaper(RESOURCE, reap_etcd_key)


@register_config_source("etcd")
def etcd_source(mesh: Mesh, spec: ConfigSourceSpec | None = None) -> EtcdSource:
    """A [config.X] kind = "etcd" table's source."""
    if spec is None:
        raise ConfigPushError("an etcd config source is declared in a [config.NAME] table (kind = \"etcd\", key = ...)")
    return EtcdSource(mesh, spec)
