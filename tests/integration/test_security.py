"""Security of the harness and the bundled mesh: loopback only, least privilege, tokens required, secrets kept.

    local runtime   every listening socket of every mesh process is on 127.0.0.1 (read from /proc)
    compose         compose.yaml + the generated override publish only on 127.0.0.1; images run as
                    a non-root USER; no privileged, cap_add, host network or Docker socket anywhere
    config service  a push without a token or with a wrong one is refused (401/403)
    secrets         the config token and session tokens never appear in logs, evidence or state files
"""

import json
import re
from pathlib import Path

import pytest
import redis

from harness import BadConfig, Chaos, Latency, Mesh, load_topology
from harness.modes import parse_mode
from harness.clients.probe import http_request
from harness.runtime.compose_plan import build_override
from harness.suite.soak import listening_sockets
from services.common.seed import USERS

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
TOPOLOGY = load_topology(ROOT / "services" / "topology.toml")
DOCKER = ROOT / "docker"


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with Mesh(TOPOLOGY, state_dir=tmp_path_factory.mktemp("state")) as m:
        yield m


def socket_inodes(pid: int) -> set[str]:
    """Socket inodes held open by `pid` and every process below it."""
    pids, inodes = [pid], set()
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(c) for c in children.read_text().split()]
    for p in pids:
        for fd in Path(f"/proc/{p}/fd").iterdir():
            try:
                target = fd.readlink().as_posix()
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def test_every_listener_of_the_bundled_local_mesh_is_on_loopback(mesh):
    names = ["toxiproxy", *TOPOLOGY.services]
    inodes = set().union(*(socket_inodes(mesh.runtime.pid(n)) for n in names))
    mine = [addr for addr, inode in listening_sockets() if inode in inodes]
    # toxiproxy's API, one proxy per edge, one port per service: all found, all on 127.0.0.1.
    assert len(mine) >= 1 + len(TOPOLOGY.edges) + len(TOPOLOGY.services), mine
    assert [a for a in mine if not a.startswith("127.0.0.1:")] == []


# -- compose ------------------------------------------------------------------------------


def compose_lines() -> list[str]:
    """compose.yaml without comments (no YAML library in the harness: the checks are line-based)."""
    return [line.split("#", 1)[0].rstrip() for line in (DOCKER / "compose.yaml").read_text().splitlines()]


def test_the_compose_file_publishes_nothing_and_asks_for_no_privilege():
    text = "\n".join(compose_lines())
    for forbidden in ("privileged", "cap_add", "network_mode", "docker.sock", "pid: host", "ports:", "/var/run"):
        assert forbidden not in text, f"docker/compose.yaml has {forbidden!r}"
    assert text.count("cap_drop: [ALL]") >= 2  # the python anchor and redis
    assert "no-new-privileges:true" in text


def test_the_generated_override_publishes_only_on_loopback_and_drops_privileges(monkeypatch):
    monkeypatch.delenv("CASCADE_HTTP_ENGINE", raising=False)  # the HTTP engine on: the override at its widest
    ports = {e: 10000 + i for i, e in enumerate(sorted(TOPOLOGY.edges))}
    doc = build_override(TOPOLOGY, parse_mode("resilient", TOPOLOGY.knobs), "s3cret", ports,
                         engine_dir="/state/runs/r1/envoy", engine_command=["/usr/local/bin/envoy"])
    published = [(name, p) for name, svc in doc["services"].items() for p in svc.get("ports", [])]
    assert len(published) >= len(TOPOLOGY.services) + 1 + len(ports) + 1  # + Envoy's admin API
    assert [(n, p) for n, p in published if not str(p).startswith("127.0.0.1:")] == []
    # The one mount of the host: the run's own envoy directory, read-only, into the envoy container.
    mounts = {name: svc.pop("volumes") for name, svc in doc["services"].items() if "volumes" in svc}
    assert mounts == {"envoy": [{"type": "bind", "source": "/state/runs/r1/envoy", "target": "/etc/cascade/envoy",
                                 "read_only": True}]}
    text = json.dumps(doc)
    for forbidden in ("privileged", "cap_add", "network_mode", "docker.sock", "/var/run", '"volumes"'):
        assert forbidden not in text, f"the override has {forbidden!r}"
    for name in ("toxiproxy", "envoy"):
        svc = doc["services"][name]
        assert svc["user"] == "65534:65534" and svc["cap_drop"] == ["ALL"] and svc["read_only"] is True, name


@pytest.mark.parametrize("dockerfile", sorted(DOCKER.glob("Dockerfile.*")), ids=lambda p: p.name)
def test_every_image_runs_as_a_non_root_user(dockerfile):
    users = re.findall(r"^USER\s+(\S+)", dockerfile.read_text(), re.M)
    assert users, f"{dockerfile.name} sets no USER: it would run as root"
    assert users[-1].split(":")[0] not in ("root", "0"), f"{dockerfile.name} ends as USER {users[-1]}"


def test_nothing_in_the_repository_mounts_the_docker_socket():
    # The harness may *talk* to an engine (DOCKER_HOST), but no container ever gets its socket.
    checked = [p for p in [*DOCKER.iterdir(), *(ROOT / "harness").rglob("*.py"), ROOT / "Makefile"] if p.is_file()]
    mount = re.compile(r"docker\.sock\s*:|-v\s+\S*docker\.sock|source:\s*\S*docker\.sock")
    assert len(checked) > 10
    assert [p.name for p in checked if mount.search(p.read_text(errors="replace"))] == []


# -- the config service's token -------------------------------------------------------------------


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic YWRtaW46YWRtaW4=", "Bearer "],
                         ids=["no-token", "wrong-token", "basic-auth", "empty-bearer"])
def test_a_config_push_without_the_right_token_is_rejected(mesh, auth):
    host, port = mesh.address("config")
    before = mesh.config().current()
    headers = {} if auth is None else {"authorization": auth}
    r = http_request(host, port, "PUT", "/config", headers=headers, body=b"{}", timeout_s=3)
    assert r.status in (401, 403), (r.status, r.body[:200])
    assert mesh.config().current().version == before.version  # and nothing was stored


# -- secrets ----------------------------------------------------------------------------------------


def test_secrets_never_appear_in_logs_evidence_or_state_files(mesh):
    # Sessions are made by logging in (the login journey does it, and so does a real user here).
    auth_host, auth_port = mesh.address("auth")
    user, (password, _display) = next(iter(USERS.items()))
    r = http_request(auth_host, auth_port, "POST", "/login", headers={"content-type": "application/json"},
                     body=json.dumps({"user": user, "password": password}).encode(), timeout_s=3)
    assert r.status == 200, r.body
    chaos = Chaos(mesh)
    with chaos.inject(BadConfig(patch={"timeouts_ms.redis": 0}), Latency("timeline->media", ms=50)):
        mesh.journeys()
    mesh.journeys()
    evidence = chaos.evidence()
    chaos.close()

    rhost, rport = mesh.address("redis")
    client = redis.Redis(host=rhost, port=rport)
    sessions = [k.decode().split(":", 1)[1] for k in client.scan_iter("session:*")]
    client.close()
    assert sessions, "no session was created: the check below would prove nothing"
    secrets = {"config token": mesh.runtime.secret, **{f"session {i}": s for i, s in enumerate(sessions)}}

    run_dir = mesh.runtime.record.dir
    # Everything the harness writes: logs and the state file (data/ is the services' own store,
    # where Redis keeps the sessions by design).
    # (+ toxiproxy's and envoy's logs, the state file, and the HTTP engine's bootstrap and routes)
    files = [*run_dir.glob("logs/*"), run_dir / "state.json"]
    assert len(files) == len(TOPOLOGY.services) + 3 and all(p.is_file() for p in files)
    files += [p for p in run_dir.glob("envoy/**/*") if p.is_file()]
    texts = {str(p.relative_to(run_dir)): p.read_text(errors="replace") for p in files}
    texts["evidence"] = evidence
    texts["timeline"] = "\n".join(ev.line() for ev in chaos.timeline)
    leaks = [(where, what) for where, text in texts.items() for what, secret in secrets.items() if secret in text]
    assert leaks == []
