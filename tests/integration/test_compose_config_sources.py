"""File config sources on the compose runtime: the configapp in a real container of cascade/python:dev.

    host file   conf/settings.json ──bind mount of the folder──> /app/conf/settings.json   (path)
    in-container                      /etc/quote/settings.json, copied at start           (container_path)
                                      read and written through the Docker API (get_archive / put_archive)

Each test builds a system folder in tmp_path (the consumer tests/integration/configapp/app.py, its
settings, a compose.yaml and a topology.toml naming it), runs it with Mesh(runtime="compose"),
pushes a bad config through BadConfig, checks the push was applied as declared (an HTTP answer
naming the new sha256, or a log line after SIGHUP sent with docker kill), its effect on a journey,
that the file is back byte for byte with its owner and mode, and that nothing of the compose
project is left in Docker afterwards. Two mistakes are shown too: a host file mounted alone into
the container is refused before anything is written, and a SIGHUP that reaches only a shell (no
`exec`) is named, the consumer then showing behind.

Needs a Docker engine (docker/engine.sh) and the images (docker/build-images.sh); skipped with the
reason otherwise, unless CASCADE_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import stat
import subprocess
import tarfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from harness import Chaos
from harness.errors import ConfigPushError
from harness.faults import BadConfig
from harness.mesh import Mesh
from harness.topology import Topology, load_topology

from .conftest import skip_module_without_compose

pytestmark = pytest.mark.integration

skip_module_without_compose()

APP = Path(__file__).parent / "configapp" / "app.py"
SETTINGS = b'{\n  "price_cents": 250,\n  "currency": "EUR"\n}\n'
APP_USER = 10001  # the image's own user (docker/Dockerfile.python), who runs app.py in every variant
AS_ROOT = os.geteuid() == 0  # only root can give the host file to APP_USER

# cascade/python:dev has Python 3.11 and its standard library: all app.py needs. The folder is
# mounted (read-only: the container never writes it), not the single file: the harness renames a
# new file over the old one, and a single-file bind mount keeps the old inode.
HOST_FILE = """
services:
  quote:
    image: cascade/python:dev
    command: ["python", "/app/app.py"]   # exec form: python is PID 1
    environment:
      HOST: 0.0.0.0
      PORT: "8000"
      CONFIG_FILE: /app/conf/settings.json
    volumes: ["./:/app:ro"]
"""

# The settings live only inside the container: copied at start to a folder of the container's own,
# handed to the app's user with mode 0640 (so a write that lost the owner would be unreadable), then
# `exec` (twice: setpriv execs python) leaves python as PID 1, the process `docker kill --signal` reaches.
IN_CONTAINER = """
services:
  quote:
    image: cascade/python:dev
    user: "0:0"   # to create /etc/quote; app.py itself runs as 10001 through setpriv
    command:
      - sh
      - -c
      - >-
        mkdir -p /etc/quote && cp /app/conf/settings.json /etc/quote/settings.json
        && chown -R 10001:10001 /etc/quote && chmod 0640 /etc/quote/settings.json
        && exec setpriv --reuid=10001 --regid=10001 --clear-groups python /app/app.py
    environment:
      HOST: 0.0.0.0
      PORT: "8000"
      CONFIG_FILE: /etc/quote/settings.json
      WATCH: "{watch}"
    volumes: ["./:/app:ro"]
"""
CONTAINER_PATH = "/etc/quote/settings.json"

# The same without `exec`: sh stays PID 1, and a SIGHUP sent to the container reaches only the shell.
NO_EXEC = IN_CONTAINER.format(watch=0).replace("&& exec setpriv", "&& setpriv").replace(
    "    user:", "    stop_signal: SIGKILL   # sh as PID 1 ignores SIGTERM too: no grace period to wait out\n    user:")

# The mistake the harness must refuse: the file alone is mounted, and the container would keep
# showing the old inode after a write (renamed over it) as if the consumer had kept its old config.
SINGLE_FILE = """
services:
  quote:
    image: cascade/python:dev
    command: ["python", "/app/app.py"]
    environment:
      HOST: 0.0.0.0
      PORT: "8000"
      CONFIG_FILE: /etc/quote.json
    volumes: ["./app.py:/app/app.py:ro", "./conf/settings.json:/etc/quote.json:ro"]
"""


def system(tmp_path: Path, compose: str, config: str) -> Topology:
    """The system folder (app.py, conf/settings.json, compose.yaml, topology.toml), loaded."""
    root = tmp_path / "system"
    (root / "conf").mkdir(parents=True)
    for folder in (root, root / "conf"):
        os.chmod(folder, 0o755)  # the container's user reads them through the bind mount
    shutil.copy(APP, root / "app.py")
    os.chmod(root / "app.py", 0o644)
    settings = root / "conf" / "settings.json"
    settings.write_bytes(SETTINGS)
    os.chmod(settings, 0o644)
    (root / "compose.yaml").write_text(compose)
    (root / "topology.toml").write_text(f'''
[mesh]
name = "configapp"
compose_file = "compose.yaml"

[services.quote]  # compose.yaml says what runs
container_port = 8000

[journeys.quote]
service = "quote"
path = "/quote"
edges = []
budget_ms = 1000

[config.quote]
kind = "file"
consumers = ["quote"]
path = "conf/settings.json"
{config}
''')
    return load_topology(root / "topology.toml")


def _docker(*args: str) -> list[str]:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=60, check=True)
    return [line for line in done.stdout.splitlines() if line.strip()]


def leftovers(project: str) -> dict[str, list[str]]:
    """What the engine still has of `project`: containers (any state), networks, volumes."""
    label = f"label=com.docker.compose.project={project}"
    return {
        "containers": _docker("ps", "-a", "--filter", label, "--format", "{{.Names}}"),
        "networks": _docker("network", "ls", "--filter", label, "--format", "{{.Name}}"),
        "volumes": _docker("volume", "ls", "--filter", label, "--format", "{{.Name}}"),
    }


@pytest.fixture
def compose_mesh(tmp_path: Path) -> Iterator[Callable[[Topology], Mesh]]:
    """Mesh(topo, runtime="compose"); after the test, nothing of its compose project is left in Docker."""
    made: list[Mesh] = []

    def make(topo: Topology) -> Mesh:
        mesh = Mesh(topo, runtime="compose", state_dir=tmp_path / "state")
        made.append(mesh)
        return mesh

    yield make
    for mesh in made:
        mesh.stop()  # idempotent: the test's `with` already stopped it
        project = mesh.runtime.project
        assert project.startswith("cascade-"), project
        assert leftovers(project) == {"containers": [], "networks": [], "volumes": []}


@contextlib.contextmanager
def chaos_of(mesh: Mesh) -> Iterator[Chaos]:
    chaos = Chaos(mesh, observe=False)
    try:
        yield chaos
    finally:
        chaos.close()


def quote(mesh: Mesh) -> tuple[int | None, dict[str, Any]]:
    r = mesh.request("quote", "GET", "/quote")
    return r.status, (json.loads(r.body) if r.status else {})


def owner_and_mode(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)


def inside(mesh: Mesh, path: str) -> tuple[bytes, tuple[int, int, int]]:
    """The file at `path` in quote's container, read back through the Docker API, with its owner and mode."""
    chunks, _stat = mesh.runtime.container("quote").get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tar:
        member = tar.next()
        assert member is not None and member.isfile(), member
        f = tar.extractfile(member)
        assert f is not None
        return f.read(), (member.uid, member.gid, member.mode & 0o7777)


def listing(mesh: Mesh, folder: str) -> list[str]:
    code, out = mesh.runtime.container("quote").exec_run(["ls", "-A", folder])
    assert code == 0, out
    return out.decode().split()


def pid1(mesh: Mesh) -> list[str]:
    """The command line of PID 1 in quote's container (what `docker kill --signal` reaches)."""
    code, out = mesh.runtime.container("quote").exec_run(["cat", "/proc/1/cmdline"])
    assert code == 0, out
    return out.decode().rstrip("\0").split("\0")


def test_a_bind_mounted_host_file_is_pushed_watched_applied_and_restored_byte_for_byte(tmp_path, compose_mesh):
    topo = system(tmp_path, HOST_FILE, 'applied = { http = "GET /applied", within_ms = 5000 }')
    path = topo.root / "conf" / "settings.json"
    if AS_ROOT:  # the app's user owns it, mode 0640: a write that lost the owner would be unreadable
        os.chown(path, APP_USER, APP_USER)
        os.chmod(path, 0o640)
    before = owner_and_mode(path.stat())
    with compose_mesh(topo) as mesh, chaos_of(mesh) as chaos:
        assert mesh.runtime.name == "compose"
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        with chaos.inject(BadConfig.out_of_range("price_cents", 900, source="quote")):
            source = mesh.config("quote")
            assert source.describe() == str(path)
            assert source.last_applied.running == ("quote",) and source.last_applied.evidence == "observed"
            assert quote(mesh) == (200, {"plan": "pro", "price": 900})  # applied when the push returned
            assert json.loads(path.read_bytes()) == {"price_cents": 900, "currency": "EUR"}
            assert owner_and_mode(path.stat()) == before
            assert json.loads(inside(mesh, "/app/conf/settings.json")[0])["price_cents"] == 900  # the mount follows
        assert path.read_bytes() == SETTINGS and owner_and_mode(path.stat()) == before
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        assert not list(path.parent.glob(".*cascade-tmp"))


def test_a_file_inside_the_container_is_pushed_through_the_docker_api_and_restored_byte_for_byte(tmp_path, compose_mesh):
    topo = system(tmp_path, IN_CONTAINER.format(watch=1), f'''container_path = "{CONTAINER_PATH}"
applied = {{ http = "GET /applied", within_ms = 5000 }}''')
    host = topo.root / "conf" / "settings.json"
    with compose_mesh(topo) as mesh, chaos_of(mesh) as chaos:
        original = inside(mesh, CONTAINER_PATH)
        assert original == (SETTINGS, (APP_USER, APP_USER, 0o640))
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        with chaos.inject(BadConfig.out_of_range("price_cents", 900, source="quote")):
            source = mesh.config("quote")
            assert source.describe() == f"{CONTAINER_PATH} in the containers of quote"
            assert source.last_applied.running == ("quote",) and source.last_applied.evidence == "observed"
            assert quote(mesh) == (200, {"plan": "pro", "price": 900})
            data, owner = inside(mesh, CONTAINER_PATH)
            assert json.loads(data) == {"price_cents": 900, "currency": "EUR"} and data.startswith(b"{\n  ")
            assert owner == original[1]  # the app's user can still read it
            assert host.read_bytes() == SETTINGS  # with container_path, `path` is the local runtime's only
        assert inside(mesh, CONTAINER_PATH) == original
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        assert listing(mesh, "/etc/quote") == ["settings.json"]  # renamed into place: no temporary file left
        record = mesh.runtime.record
        assert not any(r.get("kind") == "config_file" for r in record.resources), record.resources
    assert host.read_bytes() == SETTINGS


def test_a_sighup_sent_with_docker_kill_makes_a_consumer_that_does_not_watch_apply_or_reject_the_push(
        tmp_path, compose_mesh):
    topo = system(tmp_path, IN_CONTAINER.format(watch=0), f'''container_path = "{CONTAINER_PATH}"
reload = "signal:HUP"
applied = {{ log = "^applied config", rejected = "^rejected config", within_ms = 5000 }}''')
    with compose_mesh(topo) as mesh, chaos_of(mesh) as chaos:
        container = mesh.runtime.container("quote")
        assert "WATCH=0" in container.attrs["Config"]["Env"]  # it reads the file only at start and on SIGHUP
        assert pid1(mesh)[:2] == ["python", "/app/app.py"]  # not sh: the signal reaches app.py
        original = inside(mesh, CONTAINER_PATH)
        with chaos.inject(BadConfig.out_of_range("price_cents", 700, source="quote")):
            assert mesh.config("quote").last_applied.running == ("quote",)
            assert quote(mesh) == (200, {"plan": "pro", "price": 700})
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})  # the revert was signalled too
        with chaos.inject(BadConfig(raw="{not json", source="quote")):
            assert mesh.config("quote").last_applied.rejected == ("quote",)  # a result, not an error
            assert quote(mesh) == (200, {"plan": "pro", "price": 250})  # it kept its last good config
        assert inside(mesh, CONTAINER_PATH) == original
        assert mesh.runtime.is_running("quote")  # SIGHUP reloaded it, and did not end it
        # at start, the push, its revert, the revert of the rejected push (its sha differs from the last seen)
        assert sum(line.startswith("applied config") for line in mesh.runtime.logs("quote", 50)) == 4


def test_a_host_file_bind_mounted_alone_is_refused_before_anything_is_written(tmp_path, compose_mesh):
    topo = system(tmp_path, SINGLE_FILE, 'applied = { http = "GET /applied", within_ms = 3000 }')
    path = topo.root / "conf" / "settings.json"
    with compose_mesh(topo) as mesh, chaos_of(mesh) as chaos:
        with pytest.raises(ConfigPushError) as info:
            with chaos.inject(BadConfig.out_of_range("price_cents", 900, source="quote")):
                pass
        message = str(info.value)
        assert f"{path} is bind-mounted into quote's container as a single file (at /etc/quote.json)" in message
        assert "Mount the file's folder instead" in message, message
        assert path.read_bytes() == SETTINGS and not list(path.parent.glob(".*cascade-tmp"))
        assert not any(r.get("kind") == "config_file" for r in mesh.runtime.record.resources)
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})


def test_a_sighup_to_a_shell_that_did_not_exec_the_service_is_named_and_the_consumer_shows_behind(
        tmp_path, compose_mesh, caplog):
    topo = system(tmp_path, NO_EXEC, f'''container_path = "{CONTAINER_PATH}"
reload = "signal:HUP"
applied = {{ log = "^applied config", rejected = "^rejected config", within_ms = 1000 }}''')
    with compose_mesh(topo) as mesh, chaos_of(mesh) as chaos:
        assert pid1(mesh)[:2] == ["sh", "-c"]
        with caplog.at_level("WARNING", logger="cascade"):
            with chaos.inject(BadConfig.out_of_range("price_cents", 700, source="quote")):
                applied = mesh.config("quote").last_applied
                assert applied.running == () and dict(applied.behind) == {"quote": 1}, applied  # never reloaded
                assert quote(mesh) == (200, {"plan": "pro", "price": 250})
                assert json.loads(inside(mesh, CONTAINER_PATH)[0])["price_cents"] == 700  # the file was written
        said = [r.getMessage() for r in caplog.records if "main process is a shell" in r.getMessage()]
        assert said and said[0].startswith("quote's main process is a shell (sh -c mkdir -p /etc/quote"), said
        assert "SIGHUP reaches the shell, not your service" in said[0] and "exec <your service>" in said[0]
        assert mesh.runtime.is_running("quote")  # PID 1 ignores a signal it does not trap
        assert inside(mesh, CONTAINER_PATH)[0] == SETTINGS


def test_an_env_push_recreates_the_container_with_the_new_value_and_the_revert_brings_the_old_one_back(
        tmp_path, compose_mesh):
    compose = HOST_FILE.replace("      CONFIG_FILE: /app/conf/settings.json", "      CONFIG_FILE: /app/conf/settings.json\n"
                                "      PLAN: pro")
    topo = system(tmp_path, compose, 'applied = { within_ms = 100 }')
    (topo.root / "topology.toml").write_text((topo.root / "topology.toml").read_text()
                                             + '\n[config.plan]\nkind = "env"\nconsumers = ["quote"]\nvar = "PLAN"\n')
    topo = load_topology(topo.root / "topology.toml")
    with compose_mesh(topo) as mesh, chaos_of(mesh) as chaos:
        first = mesh.runtime.container("quote").id
        assert mesh.config("plan").current().document == {"PLAN": "pro"}  # what the container runs with
        with chaos.inject(BadConfig(patch={"PLAN": "free"}, source="plan")):
            assert mesh.config("plan").last_applied.running == ("quote",)
            assert quote(mesh) == (402, {"error": "plan 'free' does not include quotes"})
            assert mesh.runtime.container("quote").id != first  # a new container, not a restart
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        assert mesh.config("plan").current().document == {"PLAN": "pro"}
