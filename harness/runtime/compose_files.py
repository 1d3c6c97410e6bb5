"""Files in a compose runtime's containers through the Docker API, for an engine that cannot see this machine's folders.

    copy_tree(container, folder, dest)    every file under a host folder into `dest` (the container may not run yet)
    replace_file(container, path, data)   one file, written beside `path` and moved over it (docker exec mv),
                                          so a watcher of its directory sees one rename, never half a file

A remote engine's containers see none of this machine's files, so what a bind mount would have
shown them (the HTTP engine's bootstrap and routes) is copied in instead.
"""

from __future__ import annotations

import io
import posixpath
import secrets
import tarfile
import time
from pathlib import Path
from typing import Any

from ..errors import ControlPlaneError

__all__ = ["copy_tree", "replace_file"]

ROOT = "0:0"  # who moves files: the folder is the volume's, owned by root; the service itself may run as anyone


def copy_tree(container: Any, folder: Path, dest: str) -> None:
    """Put every file and folder under `folder` into `dest` in `container` (modes kept, owned by root)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_dir() or path.is_file():
                info = tar.gettarinfo(str(path), arcname=path.relative_to(folder).as_posix())
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if path.is_file():
                    with path.open("rb") as f:
                        tar.addfile(info, f)
                else:
                    tar.addfile(info)
    if not container.put_archive(dest, buf.getvalue()):
        raise ControlPlaneError(f"the Docker engine refused to copy {folder} into {dest} of {container.name}")


def replace_file(container: Any, path: str, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` in the running `container` with `data`: a temporary file beside it, renamed over it (mv)."""
    folder, name = posixpath.split(path)
    tmp = f".{name}.{secrets.token_hex(4)}.cascade-tmp"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(tmp)
        info.size, info.mode, info.mtime = len(data), mode, int(time.time())
        tar.addfile(info, io.BytesIO(data))
    if not container.put_archive(folder, buf.getvalue()):
        raise ControlPlaneError(f"the Docker engine refused to write {folder}/{tmp} in {container.name}")
    tmp_path = posixpath.join(folder, tmp)
    result = container.exec_run(["mv", "-f", tmp_path, path], user=ROOT)
    if result.exit_code != 0:
        container.exec_run(["rm", "-f", tmp_path], user=ROOT)
        said = result.output.decode(errors="replace").strip()[:200]
        raise ControlPlaneError(
            f"could not move {tmp_path} over {path} in {container.name} (exit {result.exit_code}: {said}); "
            "its image needs `mv` (coreutils or busybox) for Cascade to write files there through the Docker API")
