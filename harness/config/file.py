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

On the compose runtime, without `container_path`, the same host path is written, and it must
reach every consumer through a bind mount of a folder holding it (or a local volume bound to
one): that is checked before the first read, and a single-file bind mount is refused, since a
rename replaces the host file's inode and such a mount keeps showing the old one (the consumer
would never see a push, and an `applied` check would call it rejected).

With `container_path` on compose, the file inside each consumer's container is read and written
through the Docker API, and `path` is not used (it is the file the local runtime writes). The
write is atomic there too: a temporary file is put beside the file (owner and mode of the
original) and renamed over it with the image's `mv` (docker exec). Where that cannot be done (an
image without `mv`, a container that is not running) the file is written in place through the
archive API, which removes it before writing it: a consumer that reads it at that moment finds
it missing or empty.
"""

from __future__ import annotations

import io
import logging
import os
import secrets
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

__all__ = ["FileSource", "confine", "file_source", "mount_problem", "reap_config_file", "write_atomically"]

RESOURCE = "config_file"
NOT_FOUND_EXITS = (126, 127)  # docker exec: the command could not be run (not in the image)
log = logging.getLogger("cascade")


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
        containers = hasattr(mesh.runtime, "container")  # the consumers run in containers (compose)
        self.in_container = bool(spec.container_path) and containers
        # With container_path on compose, `path` (the local runtime's file) is never read nor written.
        self.path: Path | None = None if self.in_container else confine(spec, mesh.topology.root)
        self._mounted = not containers or self.in_container  # checked before the first read when False
        self._renames: dict[str, bool] = {}  # container id -> whether it has `mv` (an atomic write)
        if self.path is not None and not self.path.parent.is_dir():
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
        assert self.path is not None
        self._check_mounted()
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise ConfigPushError(f"config.{self.spec.name}: cannot read {self.path}: {exc.strerror or exc}") from None

    def _write(self, data: bytes | None) -> None:
        if self.in_container:
            for consumer in self.spec.consumers:
                _container_write(self.mesh.runtime.container(consumer), self.spec.container_path, data, self._renames)
            return
        assert self.path is not None
        self._check_mounted()
        try:
            write_atomically(self.path, data)
        except OSError as exc:
            raise ConfigPushError(f"config.{self.spec.name}: cannot write {self.path}: {exc.strerror or exc}") from None

    def _check_mounted(self) -> None:
        """On compose, the host file must reach every consumer's container; ConfigPushError naming the fix if not."""
        if self._mounted:
            return
        assert self.path is not None
        for consumer in self.spec.consumers:
            problem = mount_problem(self.path, consumer, self.mesh.runtime.container(consumer))
            if problem:
                raise ConfigPushError(f"config.{self.spec.name}: {problem}")
        self._mounted = True


def mount_problem(path: Path, consumer: str, container: Any) -> str:
    """Why the host file `path` does not reach `consumer`'s container ('' if a mount of a folder holding it does)."""
    real = Path(os.path.realpath(path))
    seen = []
    for mount in container.attrs.get("Mounts") or []:
        source = _mount_source(container, mount)
        if not source:
            continue
        target = mount.get("Destination", "?")
        seen.append(f"{source} at {target}")
        held = Path(os.path.realpath(source))
        if held == real:
            return (f"{path} is bind-mounted into {consumer}'s container as a single file (at {target}); Cascade "
                    "writes a new file and renames it over the old one, and a single-file mount keeps showing the "
                    f"old one, so {consumer} would never see a push. Mount the file's folder instead (volumes: "
                    f"[\"{path.parent}:/some/folder\"]) and point {consumer} at the file in it")
        if held in real.parents:
            return ""
    return (f"{path} does not reach {consumer}'s container: no mount holds it ("
            + ("mounts: " + "; ".join(seen) if seen else "it has no bind mount")
            + "). Mount the file's folder into the service in the compose file (the folder, not the file), or, for "
            "a file that lives only inside the container, set container_path to write it there through the Docker API")


def _mount_source(container: Any, mount: dict[str, Any]) -> str:
    """The host path behind a mount: a bind mount's source, or the folder a local volume is bound to ('' if none)."""
    if mount.get("Type") == "bind":
        return str(mount.get("Source") or "")
    if mount.get("Type") == "volume" and mount.get("Driver") == "local" and mount.get("Name"):
        try:
            options = container.client.volumes.get(mount["Name"]).attrs.get("Options") or {}
        except Exception:  # noqa: BLE001 -- a volume the engine will not describe binds no host folder we can see
            return ""
        if "bind" in str(options.get("o", "")).split(","):
            return str(options.get("device") or "")
    return ""


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


def _container_write(container: Any, path: str, data: bytes | None, renames: dict[str, bool]) -> None:
    """Replace `path` in `container`: a temporary file beside it renamed over it (mv), else written in place.

    The new file takes the original's owner and mode. `renames` remembers, per container, whether
    its image has `mv`.
    """
    if data is None:
        raise ConfigPushError(f"cannot remove {path} inside a container through the Docker API; push empty text instead")
    from docker.errors import NotFound

    folder, name = os.path.split(path)
    folder = folder or "/"
    mode, uid, gid = 0o644, 0, 0
    try:
        chunks, _stat = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
            member = tar.next()
            if member is not None:
                mode, uid, gid = member.mode, member.uid, member.gid
    except NotFound:
        pass
    users = list(dict.fromkeys(["0:0", f"{uid}:{gid}"]))  # root; the file's owner where root may not write the folder
    if container.status == "running" and _has_mv(container, renames):
        tmp = f".{name}.{secrets.token_hex(4)}.cascade-tmp"
        _put(container, folder, tmp, data, mode, uid, gid)
        tmp_path = f"{folder.rstrip('/')}/{tmp}"
        why = _exec_any(container, ["mv", "-f", tmp_path, path], users)
        if not why:
            return
        _exec_any(container, ["rm", "-f", tmp_path], users)
        log.warning("could not rename %s over %s in %s (%s); writing it in place", tmp_path, path, container.name, why)
    _put(container, folder, name, data, mode, uid, gid)


def _has_mv(container: Any, renames: dict[str, bool]) -> bool:
    known = renames.get(container.id)
    if known is None:
        known = renames[container.id] = container.exec_run(["mv", "--help"], user="0:0").exit_code not in NOT_FOUND_EXITS
        if not known:
            log.warning("%s has no mv: config files are written in place there, not atomically", container.name)
    return known


def _exec_any(container: Any, argv: list[str], users: list[str]) -> str:
    """Run `argv` in `container` as the first of `users` it succeeds for: '' then, else what it last said."""
    why = ""
    for user in users:
        result = container.exec_run(argv, user=user)
        if result.exit_code == 0:
            return ""
        why = f"exit {result.exit_code}: {result.output.decode(errors='replace').strip()[:200]}"
    return why


def _put(container: Any, folder: str, name: str, data: bytes, mode: int, uid: int, gid: int) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid, info.mtime = len(data), mode, uid, gid, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    if not container.put_archive(folder, buf.getvalue()):
        raise ConfigPushError(f"the Docker engine refused to write {folder.rstrip('/')}/{name} in {container.name}")


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
