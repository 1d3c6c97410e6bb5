"""The file config source's compose side, without Docker: which mounts carry a host file, how a file in a container is replaced."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from docker.errors import NotFound

from harness.config.file import FileSource, _container_write, mount_problem
from harness.errors import InvalidTopology
from harness.topology import ConfigSourceSpec


class Container:
    """A container's files in a dict, with the Docker SDK calls the file source makes, each recorded."""

    def __init__(self, files: dict[str, tuple[bytes, int, int, int]], *, status: str = "running", mv: bool = True,
                 denied: tuple[str, ...] = (), mounts: list[dict[str, Any]] | None = None,
                 volumes: dict[str, dict[str, str]] | None = None) -> None:
        self.files, self.status, self.mv, self.denied = files, status, mv, denied  # denied: users mv fails for
        self.id, self.name = "c1", "proj-quote-1"
        self.attrs = {"Mounts": mounts or []}
        self.calls: list[tuple[Any, ...]] = []
        volumes = volumes or {}
        self.client = SimpleNamespace(volumes=SimpleNamespace(get=lambda n: SimpleNamespace(attrs={"Options": volumes[n]})))

    def get_archive(self, path: str) -> tuple[list[bytes], dict[str, Any]]:
        self.calls.append(("get", path))
        if path not in self.files:
            raise NotFound("no such file")
        data, mode, uid, gid = self.files[path]
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo(os.path.basename(path))
            info.size, info.mode, info.uid, info.gid = len(data), mode, uid, gid
            tar.addfile(info, io.BytesIO(data))
        return [buf.getvalue()], {}

    def put_archive(self, folder: str, archive: bytes) -> bool:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for member in tar.getmembers():
                f = tar.extractfile(member)
                assert f is not None
                path = f"{folder.rstrip('/')}/{member.name}"
                self.calls.append(("put", path))
                self.files[path] = (f.read(), member.mode, member.uid, member.gid)
        return True

    def exec_run(self, argv: list[str], user: str = "") -> SimpleNamespace:
        self.calls.append(("exec", user, *argv))
        if not self.mv and argv[0] in ("mv", "rm"):
            return SimpleNamespace(exit_code=126, output=b'exec: "mv": executable file not found in $PATH')
        if argv[:2] == ["mv", "--help"]:
            return SimpleNamespace(exit_code=0, output=b"Usage: mv")
        if argv[:2] == ["mv", "-f"]:
            if user in self.denied:
                return SimpleNamespace(exit_code=1, output=b"mv: cannot move: Permission denied")
            self.files[argv[3]] = self.files.pop(argv[2])
            return SimpleNamespace(exit_code=0, output=b"")
        if argv[:2] == ["rm", "-f"]:
            self.files.pop(argv[2], None)
            return SimpleNamespace(exit_code=0, output=b"")
        raise AssertionError(argv)


ORIGINAL = (b'{"price_cents": 250}\n', 0o640, 10001, 10001)
PATH = "/etc/quote/settings.json"


def test_a_file_in_a_running_container_is_put_beside_itself_and_renamed_over_it_keeping_owner_and_mode():
    c = Container({PATH: ORIGINAL})
    _container_write(c, PATH, b'{"price_cents": 900}\n', {})
    assert c.files == {PATH: (b'{"price_cents": 900}\n', 0o640, 10001, 10001)}  # the temporary file was renamed
    puts = [call[1] for call in c.calls if call[0] == "put"]
    assert len(puts) == 1 and puts[0].startswith("/etc/quote/.settings.json.") and puts[0].endswith(".cascade-tmp")
    assert ("exec", "0:0", "mv", "-f", puts[0], PATH) in c.calls


def test_where_root_may_not_rename_the_files_owner_does():
    c = Container({PATH: ORIGINAL}, denied=("0:0",))  # cap_drop ALL: root cannot write a folder it does not own
    _container_write(c, PATH, b"new", {})
    assert c.files == {PATH: (b"new", 0o640, 10001, 10001)}
    assert [call[1] for call in c.calls if call[0] == "exec" and call[2:4] == ("mv", "-f")] == ["0:0", "10001:10001"]


def test_a_rename_nobody_may_do_removes_the_temporary_file_and_writes_in_place():
    c = Container({PATH: ORIGINAL}, denied=("0:0", "10001:10001"))
    _container_write(c, PATH, b"new", {})
    assert c.files == {PATH: (b"new", 0o640, 10001, 10001)}  # no temporary file left
    assert [call[1] for call in c.calls if call[0] == "put"][-1] == PATH


@pytest.mark.parametrize("why", ["no mv in the image", "the container is not running"])
def test_without_a_rename_the_file_is_written_in_place(why):
    renames: dict[str, bool] = {}
    c = Container({PATH: ORIGINAL}, mv=why != "no mv in the image",
                  status="exited" if why == "the container is not running" else "running")
    for text in (b"one", b"two"):
        _container_write(c, PATH, text, renames)
    assert c.files == {PATH: (b"two", 0o640, 10001, 10001)}  # no temporary file was ever put
    assert [call[1] for call in c.calls if call[0] == "put"] == [PATH, PATH]
    execs = [call for call in c.calls if call[0] == "exec"]
    assert execs == ([("exec", "0:0", "mv", "--help")] if why == "no mv in the image" else [])  # asked once


def test_a_new_file_in_a_container_is_root_owned_0644():
    c = Container({})
    _container_write(c, PATH, b"x", {})
    assert c.files == {PATH: (b"x", 0o644, 0, 0)}


def bind(source: Path | str, target: str) -> dict[str, Any]:
    return {"Type": "bind", "Source": str(source), "Destination": target, "RW": False}


@pytest.fixture
def settings(tmp_path: Path) -> Path:
    (tmp_path / "system" / "conf").mkdir(parents=True)
    path = tmp_path / "system" / "conf" / "settings.json"
    path.write_text("{}")
    return path


def test_a_host_file_reaches_a_container_that_mounts_a_folder_holding_it(settings):
    assert mount_problem(settings, "quote", Container({}, mounts=[bind(settings.parent.parent, "/app")])) == ""
    assert mount_problem(settings, "quote", Container({}, mounts=[bind(settings.parent, "/etc/quote")])) == ""


def test_a_folder_mounted_through_a_symlink_or_a_bound_local_volume_holds_it_too(settings, tmp_path):
    (tmp_path / "link").symlink_to(settings.parent)
    assert mount_problem(settings, "quote", Container({}, mounts=[bind(tmp_path / "link", "/etc/quote")])) == ""
    volume = {"Type": "volume", "Name": "conf", "Driver": "local", "Source": "/var/lib/docker/volumes/conf/_data",
              "Destination": "/etc/quote"}
    c = Container({}, mounts=[volume], volumes={"conf": {"type": "none", "o": "bind", "device": str(settings.parent)}})
    assert mount_problem(settings, "quote", c) == ""


def test_a_host_file_mounted_alone_is_refused_naming_the_fix(settings):
    why = mount_problem(settings, "quote", Container({}, mounts=[bind(settings, "/etc/quote.json")]))
    assert why.startswith(f"{settings} is bind-mounted into quote's container as a single file (at /etc/quote.json)")
    assert "Mount the file's folder instead" in why and str(settings.parent) in why


@pytest.mark.parametrize("mounts, says", [
    ([], "it has no bind mount"),
    ([{"Type": "volume", "Name": "data", "Driver": "local", "Destination": "/data"}], "it has no bind mount"),
    ([bind("/srv/other", "/etc/other")], "mounts: /srv/other at /etc/other"),
])
def test_a_host_file_no_mount_holds_is_refused_naming_the_mounts_and_the_fixes(settings, mounts, says):
    why = mount_problem(settings, "quote", Container({}, mounts=mounts, volumes={"data": {}}))
    assert why.startswith(f"{settings} does not reach quote's container: no mount holds it ({says})"), why
    assert "the folder, not the file" in why and "container_path" in why


def mesh(root: Path, *, containers: bool) -> Any:
    runtime = SimpleNamespace(container=lambda _service: Container({})) if containers else SimpleNamespace()
    return SimpleNamespace(topology=SimpleNamespace(root=root), runtime=runtime)


def test_with_container_path_on_compose_the_host_path_is_never_looked_at(tmp_path):
    # `path` leads out of the folder through a symlink: the local runtime refuses it, compose never uses it.
    root = tmp_path / "system"
    root.mkdir()
    (root / "conf").symlink_to(tmp_path)
    spec = ConfigSourceSpec(name="quote", kind="file", consumers=("quote",), path="conf/settings.json",
                            container_path=PATH)
    source = FileSource(mesh(root, containers=True), spec)
    assert source.in_container and source.path is None
    assert source.describe() == f"{PATH} in the containers of quote" and source._where()["container_path"] == PATH
    with pytest.raises(InvalidTopology, match="outside the topology's folder"):
        FileSource(mesh(root, containers=False), spec)


def test_on_the_local_runtime_container_path_is_ignored_and_path_is_the_file(tmp_path):
    (tmp_path / "conf").mkdir()
    spec = ConfigSourceSpec(name="quote", kind="file", consumers=("quote",), path="conf/settings.json",
                            container_path=PATH)
    source = FileSource(mesh(tmp_path, containers=False), spec)
    assert not source.in_container and source.path == tmp_path / "conf" / "settings.json"
