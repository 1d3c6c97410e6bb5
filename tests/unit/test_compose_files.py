"""Files in a remote engine's containers through the Docker API (compose_files), and the HTTP engine's hook for them."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness.clients.envoy import EdgeListener, EnvoyEngine
from harness.errors import ControlPlaneError
from harness.runtime.compose_files import copy_tree, replace_file
from harness.runtime.compose_plan import ENVOY_DIR


def test_the_engine_hands_every_routes_file_it_writes_to_publish(tmp_path: Path) -> None:
    published: dict[str, bytes] = {}
    edges = [EdgeListener("a->b", 11000, ("b", 8000)), EdgeListener("a->c", 11001, ("c", 8000))]
    engine = EnvoyEngine(edges, admin_port=9901, workdir=tmp_path / "envoy", served_workdir=Path(ENVOY_DIR),
                         publish=lambda rel, data: published.__setitem__(rel, data))
    engine.prepare(envoy="/usr/local/bin/envoy")
    assert sorted(published) == ["routes/a__b/routes.json", "routes/a__c/routes.json"]
    for rel, data in published.items():
        assert (tmp_path / "envoy" / rel).read_bytes() == data
        assert json.loads(data)["version_info"] == "1"


class Container:
    """A container's files, with the archive and exec calls compose_files makes, recorded."""

    def __init__(self, *, mv_exit: int = 0) -> None:
        self.name, self.files, self.calls, self.mv_exit = "proj-envoy-1", {}, [], mv_exit

    def put_archive(self, folder: str, archive: bytes) -> bool:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            for m in tar.getmembers():
                f = tar.extractfile(m)
                path = f"{folder.rstrip('/')}/{m.name}"
                self.files[path] = (f.read() if f else None, m.mode, m.uid)
                self.calls.append(("put", path))
        return True

    def exec_run(self, argv: list[str], user: str = "") -> SimpleNamespace:
        self.calls.append(("exec", user, *argv))
        if argv[0] == "mv" and self.mv_exit == 0:
            self.files[argv[3]] = self.files.pop(argv[2])
        return SimpleNamespace(exit_code=self.mv_exit if argv[0] == "mv" else 0, output=b"mv: not found")


def test_a_file_is_moved_into_place_in_the_container_never_written_where_it_is_watched() -> None:
    c = Container()
    replace_file(c, f"{ENVOY_DIR}/routes/a__b/routes.json", b'{"v": 2}')
    (put, tmp), (exe, user, mv, force, src, dest) = c.calls
    assert put == "put" and tmp.startswith(f"{ENVOY_DIR}/routes/a__b/.routes.json.") and tmp.endswith(".cascade-tmp")
    assert (exe, user, mv, force, src, dest) == ("exec", "0:0", "mv", "-f", tmp, f"{ENVOY_DIR}/routes/a__b/routes.json")
    assert c.files == {f"{ENVOY_DIR}/routes/a__b/routes.json": (b'{"v": 2}', 0o644, 0)}


def test_an_image_without_mv_is_named() -> None:
    c = Container(mv_exit=127)
    with pytest.raises(ControlPlaneError, match=r"could not move .* in proj-envoy-1 \(exit 127.*needs `mv`"):
        replace_file(c, f"{ENVOY_DIR}/routes/x/routes.json", b"{}")
    assert c.calls[-1][2] == "rm"  # the temporary file is not left behind


def test_a_folder_is_copied_in_with_its_modes_owned_by_root(tmp_path: Path) -> None:
    (tmp_path / "routes" / "a__b").mkdir(parents=True)
    (tmp_path / "envoy.json").write_text("{}")
    (tmp_path / "routes" / "a__b" / "routes.json").write_text("[]")
    (tmp_path / "envoy.json").chmod(0o644)
    c = Container()
    copy_tree(c, tmp_path, ENVOY_DIR)
    assert c.files[f"{ENVOY_DIR}/envoy.json"] == (b"{}", 0o644, 0)
    assert c.files[f"{ENVOY_DIR}/routes/a__b/routes.json"][0] == b"[]"
    assert f"{ENVOY_DIR}/routes" in c.files  # the folders too, so the files have somewhere to go
