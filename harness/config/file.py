"""The "file" config source: a file the consumers read, written atomically, restored byte for byte.

    [config.catalog]
    kind = "file"
    consumers = ["catalog"]
    path = "config/catalog.json"     # relative to the topology's folder; outside it needs allow_outside = true
    format = "json"                  # json | yaml | toml | raw (default: from the suffix, else raw)
    reload = "watch"                 # or signal:HUP, restart, http:POST /reload
    applied = { log = "config reloaded", within_ms = 2000 }

A write goes to a temporary file in the same folder, is fsynced, takes the original's owner and
mode, and is renamed over it; the folder is fsynced too. Nothing is written to a path the
topology did not declare, and the declared path may not lead out of the topology's folder through
`..` or a symlink (unless allow_outside = true).

On the compose runtime the same host path is written when it is bind-mounted into the consumers
(mount its folder, not the file: a rename replaces the host file's inode, which a single-file
bind mount does not follow). With `container_path`, the file inside each consumer's container is
read and written through the Docker API (no shell needed in the image).
"""

from __future__ import annotations

import io
import os
import stat
import tarfile
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigPushError, InvalidTopology
from ..runtime.runstate import register_reaper
from .base import register_config_source
from .stored import StoredSource, sha256, unb64

if TYPE_CHECKING:
    from ..topology import ConfigSourceSpec
    from .base import Mesh

__all__ = ["FileSource", "confine", "file_source", "reap_config_file", "write_atomically"]

RESOURCE = "config_file"


def confine(spec: ConfigSourceSpec, root: Path) -> Path:
    """The declared file's host path, refused (InvalidTopology naming the fix) if it leads out of `root`."""
    path = spec.file_path(root)
    if spec.allow_outside:
        return path
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(path))  # follows every symlink on the way, and the file's own
    if real != real_root and real_root not in real.parents:
        raise InvalidTopology(
            f"config.{spec.name}.path: {spec.path!r} leads to {str(real)!r}, outside the topology's folder "
            f"{str(real_root)!r} (through '..' or a symlink); point it at a file under that folder, or set "
            "allow_outside = true to write there on purpose")
    return path


def write_atomically(path: Path, data: bytes | None) -> None:
    """Replace `path` with `data` (None: remove it): temp file in the same folder, fsync, owner and mode kept, rename."""
    folder = path.parent
    if data is None:
        path.unlink(missing_ok=True)
    else:
        try:
            st: os.stat_result | None = path.stat()
        except FileNotFoundError:
            st = None
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".cascade-tmp", dir=folder)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
                if st is not None:
                    os.fchmod(f.fileno(), stat.S_IMODE(st.st_mode))
                    if (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                        os.fchown(f.fileno(), st.st_uid, st.st_gid)
                else:
                    os.fchmod(f.fileno(), 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    dfd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


class FileSource(StoredSource):
    """A config file on the host (both runtimes) or, with container_path on compose, in the consumers' containers."""

    resource_kind = RESOURCE

    def __init__(self, mesh: Mesh, spec: ConfigSourceSpec) -> None:
        super().__init__(mesh, spec)
        self.in_container = bool(spec.container_path) and hasattr(mesh.runtime, "container")
        self.path = confine(spec, mesh.topology.root)
        if not self.in_container and not self.path.parent.is_dir():
            raise ConfigPushError(f"config.{spec.name}.path: the folder {str(self.path.parent)!r} does not exist; "
                                  f"paths are relative to the topology's folder {str(mesh.topology.root)!r}")

    def describe(self) -> str:
        if self.in_container:
            return f"{self.spec.container_path} in the containers of {', '.join(self.spec.consumers)}"
        return str(self.path)

    def _where(self) -> dict[str, Any]:
        if self.in_container:
            return {"container_path": self.spec.container_path, "in_container": True}
        return {"path": str(self.path)}

    def _read(self) -> bytes | None:
        if self.in_container:
            return _container_read(self.mesh.runtime.container(self.spec.consumers[0]), self.spec.container_path)
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigPushError(f"config.{self.spec.name}: cannot read {self.path}: {exc.strerror or exc}") from None

    def _write(self, data: bytes | None) -> None:
        if self.in_container:
            for consumer in self.spec.consumers:
                _container_write(self.mesh.runtime.container(consumer), self.spec.container_path, data)
            return
        try:
            write_atomically(self.path, data)
        except OSError as exc:
            raise ConfigPushError(f"config.{self.spec.name}: cannot write {self.path}: {exc.strerror or exc}") from None


def _container_read(container: Any, path: str) -> bytes | None:
    from docker.errors import NotFound

    try:
        chunks, _stat = container.get_archive(path)
    except NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.next()
        f = tar.extractfile(member) if member is not None else None
        return f.read() if f is not None else None


def _container_write(container: Any, path: str, data: bytes | None) -> None:
    if data is None:
        raise ConfigPushError(f"cannot remove {path} inside a container through the Docker API; push empty text instead")
    from docker.errors import NotFound

    folder, name = os.path.split(path)
    mode, uid, gid = 0o644, 0, 0
    try:
        chunks, _stat = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            member = tar.next()
            if member is not None:
                mode, uid, gid = member.mode, member.uid, member.gid
    except NotFound:
        pass
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, gid, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    if not container.put_archive(folder or "/", buf.getvalue()):
        raise ConfigPushError(f"the Docker engine refused to write {path} in {container.name}")


def reap_config_file(resource: dict[str, Any]) -> str | None:
    """Put back the file a dead runner left bad, if it still holds what Cascade pushed; say what was done."""
    name = resource.get("source", "?")
    if resource.get("in_container"):
        return f"bad config of config.{name} ended with its containers"
    path = Path(str(resource["path"]))
    try:
        now: bytes | None = path.read_bytes()
    except FileNotFoundError:
        now = None
    original = unb64(resource.get("original"))
    if now == original:
        return None
    if sha256(now) != resource.get("pushed_sha256"):
        return (f"left {path} (config.{name}) as it is: it changed after Cascade's push (sha256 {sha256(now)[:12]}); "
                f"its content before the push had sha256 {str(resource.get('original_sha256'))[:12]}")
    write_atomically(path, original)
    return f"restored {path} (config.{name}) to its content before the push (sha256 {sha256(original)[:12]})"


register_reaper(RESOURCE, reap_config_file)


@register_config_source("file")
def file_source(mesh: Mesh, spec: ConfigSourceSpec | None = None) -> FileSource:
    """A [config.X] kind = "file" table's source."""
    if spec is None:
        raise ConfigPushError("a file config source is declared in a [config.NAME] table (kind = \"file\", path = ...)")
    return FileSource(mesh, spec)
