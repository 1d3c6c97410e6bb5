"""What the file, etcd and env sources share: versions kept by the harness, the original snapshotted, delivery awaited.

    first read ──> version 1 (as found)
    push(raw)  ──> snapshot the original into the run-state record (once) ──> write ──> read back
               ──> reload the consumers ──> wait for the declared evidence ──> version n (+ its Applied)
    rollback(v) ─> write version v's bytes again, the same way; back at the original: the record is dropped

These stores keep no history of their own, so the versions are the harness's: numbered from 1
per mesh, each with its exact bytes. A crashed runner leaves the record; the next run (or `cascade
cleanup`) hands it to the kind's reaper, which puts the original back if the store still holds
what Cascade pushed, and leaves it alone (saying so) if someone changed it since.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import ConfigPushError, VerificationFailed
from .base import Applied, ConfigVersion
from .delivery import Evidence, LogMarks, await_consumers, reload
from .formats import dump, parse

if TYPE_CHECKING:
    from ..topology import ConfigSourceSpec
    from .base import Mesh

__all__ = ["StoredSource", "b64", "sha256", "unb64"]


def sha256(data: bytes | None) -> str:
    return hashlib.sha256(data).hexdigest() if data is not None else "absent"


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()


def unb64(text: str | None) -> bytes | None:
    return None if text is None else base64.b64decode(text)


@dataclass(frozen=True)
class _Version:
    data: bytes | None  # None: the key or file or variable is absent
    note: str
    at: float


class StoredSource:
    """A ConfigSource over a store that keeps only the current content (a file, an etcd key, a variable)."""

    resource_kind: ClassVar[str]  # the run-state record's kind, with a reaper registered for it

    def __init__(self, mesh: Mesh, spec: ConfigSourceSpec) -> None:
        self.mesh, self.spec = mesh, spec
        self._versions: list[_Version] = []
        self._applied: dict[int, Applied] = {}
        self._record: dict[str, Any] | None = None  # the run-state resource while the original is not in place
        self._written: str | None = None  # sha256 of what Cascade wrote last: a revert restores only over it
        self.last_applied: Applied | None = None

    # -- what a kind provides ----------------------------------------------------------

    def _read(self) -> bytes | None:
        raise NotImplementedError

    def _write(self, data: bytes | None) -> None:
        raise NotImplementedError

    def _where(self) -> dict[str, Any]:
        """What the reaper needs to find the store again (a path, an endpoint and key...)."""
        raise NotImplementedError

    def _revision(self) -> int | None:
        """A revision the consumers may report (etcd's mod_revision); None where the store has none."""
        return None

    def describe(self) -> str:
        raise NotImplementedError

    # -- the ConfigSource protocol -----------------------------------------------------

    def current(self) -> ConfigVersion:
        data = self._read()
        if not self._versions:
            self._versions.append(_Version(data, "as found", time.time()))
        elif data != self._versions[-1].data:  # changed outside Cascade: a version of its own
            self._versions.append(_Version(data, "changed outside Cascade", time.time()))
        return ConfigVersion(len(self._versions), _text(data), self.document_of(data))

    def document_of(self, data: bytes | None) -> Any:
        """The parsed document of `data` in the source's format; None when absent or not parseable."""
        return parse(self.spec.format, data)[0] if data is not None else None

    def render(self, document: Any) -> bytes | None:
        """`document` written in the source's format, laid out like the current content."""
        return dump(self.spec.format, document, like=self._versions[-1].data or b"" if self._versions else b"")

    def push(self, raw: str | bytes, *, note: str = "") -> int:
        data = raw.encode() if isinstance(raw, str) else raw
        return self._deliver(data, note)

    def rollback(self, to_version: int, *, expect_raw: str | None = None) -> int:
        if not 1 <= to_version <= len(self._versions):
            raise ConfigPushError(f"config.{self.spec.name} has versions 1 to {len(self._versions)}, not {to_version}")
        data = self._versions[to_version - 1].data
        if expect_raw is not None and _text(data) != expect_raw:
            raise VerificationFailed(f"config.{self.spec.name}: version {to_version} is not the text expected back")
        return self._deliver(data, f"rollback to version {to_version}", restoring=True)

    def history(self) -> list[dict[str, Any]]:
        return [{"version": i + 1, "note": v.note, "at": v.at, "sha256": sha256(v.data),
                 "bytes": -1 if v.data is None else len(v.data)} for i, v in enumerate(self._versions)]

    def applied(self, version: int) -> Applied:
        known = self._applied.get(version)
        if known is not None:
            return known
        return Applied(version, unknown={c: f"version {version} was not pushed through this mesh"
                                         for c in self.spec.consumers})

    # -- one write, from snapshot to evidence ------------------------------------------

    def _deliver(self, data: bytes | None, note: str, *, restoring: bool = False) -> int:
        self.current()  # version 1 is what was there before anything we do
        before = self._versions[-1].data
        original = self._versions[0].data
        if restoring and self._written is not None and sha256(before) != self._written:
            raise VerificationFailed(
                f"config.{self.spec.name}: {self.describe()} changed after Cascade's push (it holds "
                f"{sha256(before)[:12]}, Cascade wrote {self._written[:12]}); left as it is, not restoring over "
                f"someone else's change (the content before the push had sha256 {sha256(original)[:12]})")
        if self._record is None and data != original:
            self._record = self.mesh.runtime.record.add_resource(
                kind=self.resource_kind, source=self.spec.name, **self._where(), original=b64(original),
                original_sha256=sha256(original), pushed_sha256=sha256(data))
        elif self._record is not None:
            self._record["pushed_sha256"] = sha256(data)
            self.mesh.runtime.record.save()
        marks = LogMarks.take(self.mesh, self.spec)
        self._write(data)
        try:
            back = self._read()
            if back != data:
                raise VerificationFailed(f"config.{self.spec.name}: wrote {sha256(data)[:12]} to {self.describe()} "
                                         f"but it holds {sha256(back)[:12]}")
            self._written = sha256(data)
            self._versions.append(_Version(data, note, time.time()))
            version = len(self._versions)
            reload(self.mesh, self.spec)
            applied = await_consumers(self.mesh, self.spec, version,
                                      Evidence(sha256(data), self._revision(), sha256(before)), marks)
        except BaseException:
            # Written but not delivered (a reload that failed, Ctrl-C): put back what was there, so
            # a push that raised leaves nothing behind; the record goes once the original is back.
            if not restoring and data != before:
                with contextlib.suppress(Exception):
                    self._write(before)
                    self._written = sha256(before)
                    self._versions.append(_Version(before, "restored after a failed push", time.time()))
                    self._forget_record_if_original()
            raise
        self._forget_record_if_original()
        self._applied[version] = self.last_applied = applied
        return version

    def _forget_record_if_original(self) -> None:
        if self._record is not None and self._versions[-1].data == self._versions[0].data:
            self.mesh.runtime.record.drop_resource(self._record)
            self._record = None

    def restore(self) -> bool:
        """Put the original content back if a push left something else (mesh teardown); True if it did."""
        if self._record is None:
            return False
        self._deliver(self._versions[0].data, "restored at teardown", restoring=True)
        return True

    def checksum(self) -> str:
        """The sha256 of what the store holds now ("absent" if nothing)."""
        return sha256(self._read())

    @property
    def pushed(self) -> bool:
        """Whether the store holds something else than the original now (a fault is in place)."""
        return self._record is not None


def _text(data: bytes | None) -> str:
    return "" if data is None else data.decode("utf-8", errors="surrogateescape")
