"""Control-plane failures are never silent: each one raises a HarnessError naming what failed.

Covered elsewhere (not repeated here): a dead Toxiproxy during revert (test_faults_real.py,
test_plugin.py), a dead config service during revert and a push without the token
(test_config_fault.py). Here: an API error from a rejected toxic and from a deleted proxy, a
Toxiproxy that stops answering (SIGSTOP) during inject and during revert, a dead Toxiproxy during
inject, a config service that answers 5xx or is down during a push, and a Docker engine that is
not there (the docker SDK against a socket path that does not exist).
"""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness import BadConfig, Chaos, Latency, Mesh
from harness.errors import ConfigPushError, ProvisionError, RevertFailed, ToxiproxyError, ToxiproxyUnreachable
from harness.runtime.runstate import RunRecord, reap_leftovers
from harness.topology import Topology, load_topology
from harness.clients.toxiproxy import Toxic


pytestmark = pytest.mark.integration

EDGE = "front->back"
SHORT_TIMEOUT_S = 1.0


@pytest.fixture
def mini_mesh(mini, state_dir):
    with Mesh(mini, state_dir=state_dir) as m:
        m.toxiproxy.timeout_s = SHORT_TIMEOUT_S  # a stopped server is detected in 1 s, not 10
        yield m


def toxiproxy_signal(mesh: Mesh, sig: int) -> None:
    os.kill(mesh.runtime.pid("toxiproxy"), sig)


def test_a_toxic_the_server_rejects_raises_with_status_and_server_text(mini_mesh):
    with pytest.raises(ToxiproxyError) as info:
        mini_mesh.toxiproxy.add_toxic(EDGE, Toxic(name="x", type="no_such_toxic"))
    assert info.value.status == 400 and "invalid toxic type" in str(info.value)
    assert "toxic 'x' to proxy 'front->back'" in str(info.value)  # what was refused, where
    assert "toxic type" in str(info.value)  # what to check next


def test_a_fault_on_a_proxy_that_vanished_fails_the_inject_naming_the_proxy(mini_mesh):
    chaos = Chaos(mini_mesh, observe=False)
    mini_mesh.toxiproxy.delete_proxy(EDGE)
    with pytest.raises(ToxiproxyError, match=r"404.*front->back|front->back.*404") as info:
        chaos.apply(Latency(EDGE, ms=100))
    assert "does not exist" in str(info.value)
    assert [e.action for e in chaos.timeline] == ["apply_failed"]
    chaos.close()


def test_a_stopped_toxiproxy_fails_the_inject_within_the_timeout(mini_mesh):
    chaos = Chaos(mini_mesh, observe=False)
    toxiproxy_signal(mini_mesh, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        with pytest.raises(ToxiproxyUnreachable, match=r"no answer within 1 s") as info:
            chaos.apply(Latency(EDGE, ms=100))
        assert time.monotonic() - t0 < 10 * SHORT_TIMEOUT_S
        assert f"127.0.0.1:{mini_mesh.runtime.toxiproxy_port}" in str(info.value)
    finally:
        toxiproxy_signal(mini_mesh, signal.SIGCONT)
    chaos.close()


def test_a_stopped_toxiproxy_fails_the_revert_loudly_naming_the_fault(mini_mesh):
    chaos = Chaos(mini_mesh, observe=False)
    fault = Latency(EDGE, ms=100)
    chaos.apply(fault)
    toxiproxy_signal(mini_mesh, signal.SIGSTOP)
    try:
        with pytest.raises(RevertFailed) as info:
            chaos.revert_all()
    finally:
        toxiproxy_signal(mini_mesh, signal.SIGCONT)
    msg = str(info.value)
    assert fault.describe() in msg and "no answer within 1 s" in msg and "NOT at its baseline" in msg, msg
    chaos.close()


def test_a_dead_toxiproxy_fails_the_inject(mini_mesh):
    chaos = Chaos(mini_mesh, observe=False)
    toxiproxy_signal(mini_mesh, signal.SIGKILL)
    with pytest.raises(ToxiproxyUnreachable, match=r"did not answer|refused") as info:
        chaos.apply(Latency(EDGE, ms=100))
    assert "toxiproxy" in str(info.value).lower()
    chaos.close()


# -- the config service ---------------------------------------------------------------------

CONFIG_SERVICE = textwrap.dedent('''
    """A config service that serves its document but answers 503 to every push."""
    import json, os
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass
        def send(self, status, body):
            self.send_response(status)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        def do_GET(self):
            doc = {"version": 1, "raw": "{}", "document": {}}
            self.send(200, b"ok" if self.path == "/health" else json.dumps(doc).encode())
        def do_PUT(self):
            self.rfile.read(int(self.headers.get("content-length", 0)))
            self.send(503, b"config store is read-only for maintenance")

    HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
''')


@pytest.fixture
def config_mesh(tmp_path, state_dir):
    (tmp_path / "cfg.py").write_text(CONFIG_SERVICE)
    topo = Topology.from_dict({
        "mesh": {"name": "cfg", "config_service": "cfg"},
        "services": {"cfg": {"command": ["{python}", "{root}/cfg.py"]}},
    }, tmp_path)
    with Mesh(topo, state_dir=state_dir) as m:
        yield m


def test_a_config_service_answering_5xx_fails_the_push_naming_status_and_body(config_mesh):
    chaos = Chaos(config_mesh, observe=False)
    with pytest.raises(ConfigPushError, match=r"could not push a config document: config service answered 503: "
                                              r"config store is read-only"):
        chaos.apply(BadConfig(raw="{"))
    chaos.close()


def test_a_config_service_that_is_down_fails_the_push(config_mesh):
    chaos = Chaos(config_mesh, observe=False)
    config_mesh.runtime.kill("cfg")
    with pytest.raises(ConfigPushError, match=r"config service at 127\.0\.0\.1:\d+ did not answer"):
        chaos.apply(BadConfig(raw="{"))
    chaos.close()


# -- Docker ---------------------------------------------------------------------------------

BUNDLED = Path(__file__).parents[2] / "services" / "topology.toml"


def test_a_docker_engine_that_is_not_there_fails_the_compose_start_naming_it(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine/docker.sock")
    mesh = Mesh(load_topology(BUNDLED), runtime="compose", state_dir=tmp_path / "state")
    with pytest.raises(ProvisionError, match=r"no Docker engine answers at DOCKER_HOST=unix:///.*no-engine/docker.sock \(.*No such file or directory.*\); start one"):
        mesh.start()
    assert list((tmp_path / "state").glob("runs/*/state.json")) == []  # nothing half-started to reap


def test_a_dead_compose_run_is_not_forgotten_while_the_engine_is_unreachable(tmp_path, monkeypatch):
    # A runner died with a compose project up; the next run cannot reach the engine. Dropping
    # the state file would leak the containers for good: it must say so and keep the record.
    rec = RunRecord.create(tmp_path / "state")
    rec.add_resource(kind="compose", project="cascade-test-gone", command=["docker", "compose"], files=[])
    rec.owner_pid = 2**22 + 1  # a pid above pid_max: that runner is certainly gone
    rec.save()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine/docker.sock")
    cleaned = reap_leftovers(tmp_path / "state")
    assert len(cleaned) == 1 and "cascade-test-gone" in cleaned[0] and "no Docker engine answers" in cleaned[0], cleaned
    assert "kept" in cleaned[0]
    assert rec.path.exists()
    done = subprocess.run([sys.executable, "-m", "harness.cli", "cleanup"], capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, CASCADE_STATE_DIR=str(tmp_path / "state")))
    assert done.returncode == 1 and done.stdout.startswith("could not clean compose cascade-test-gone"), done.stdout
    assert rec.path.exists()  # still kept for the run that can reach the engine

