"""The local runtime against the real toxiproxy-server and the two-service fixture mesh."""

import signal
import subprocess
import sys
import textwrap
import time

import pytest

from harness.errors import MeshNotReady
from harness.mesh import Mesh
from harness.runtime.runstate import reap_leftovers
from harness.topology import Topology
from harness.clients.toxiproxy import Toxic

from .conftest import MINI, alive

pytestmark = pytest.mark.integration


def mesh_pids(mesh):
    return [(p.popen.pid, p.ticks) for p in mesh.runtime._procs.values() if p.popen]


PROCESSES = 4  # the fixture mesh: back, front, toxiproxy and envoy (the HTTP engine on front->back)


def test_every_edge_goes_through_its_own_proxy(mini, state_dir):
    with Mesh(mini, state_dir=state_dir) as mesh:
        proxy = mesh.toxiproxy.proxy("front->back")
        assert proxy.listen == "127.0.0.1:%d" % mesh.proxy_address("front->back")[1]
        # through the HTTP engine: Toxiproxy's upstream is the edge's Envoy listener, Envoy's the callee
        engine = mesh.runtime.engine.edges["front->back"]
        assert proxy.upstream == "127.0.0.1:%d" % engine.listen_port
        assert engine.upstream == ("127.0.0.1", mesh.address("back")[1])
        r = mesh.request("front", "GET", "/ping")
        assert (r.status, r.body) == (200, b"front got: pong")


def test_latency_on_the_edge_shows_in_the_response_time(mini, state_dir):
    with Mesh(mini, state_dir=state_dir) as mesh:
        base = mesh.request("front", "GET", "/ping").elapsed_ms
        mesh.toxiproxy.add_toxic("front->back", Toxic("cascade_latency_downstream", "latency", attributes={"latency": 400}))
        slow = mesh.request("front", "GET", "/ping")
        assert slow.status == 200
        assert 400 <= slow.elapsed_ms < 400 + base + 1000


def test_down_refuses_connections_and_reset_clears_it(mini, state_dir):
    with Mesh(mini, state_dir=state_dir) as mesh:
        mesh.toxiproxy.disable("front->back")
        mesh.toxiproxy.add_toxic("front->back", Toxic("cascade_latency_downstream", "latency", attributes={"latency": 50}))
        r = mesh.request("front", "GET", "/ping")
        assert r.status == 503 and b"Connection refused" in r.body
        assert mesh.reset() == []
        proxy = mesh.toxiproxy.proxy("front->back")
        assert proxy.enabled and proxy.toxics == ()
        assert mesh.request("front", "GET", "/ping").status == 200


def test_every_listener_binds_loopback_only(mini, state_dir):
    with Mesh(mini, state_dir=state_dir) as mesh:
        ports = {mesh.runtime.toxiproxy_port, *mesh.runtime.ports.values(), *mesh.runtime.proxy_ports.values()}
        listening = subprocess.run(["ss", "-Hltn"], capture_output=True, text=True, check=True).stdout
        ours = [line.split()[3] for line in listening.splitlines() if int(line.split()[3].rsplit(":", 1)[1]) in ports]
        assert len(ours) == len(ports)
        assert all(addr.startswith("127.0.0.1:") for addr in ours), ours


def test_two_meshes_at_once_do_not_collide(mini, state_dir):
    with Mesh(mini, state_dir=state_dir) as a, Mesh(mini, state_dir=state_dir) as b:
        pa = {a.runtime.toxiproxy_port, *a.runtime.ports.values(), *a.runtime.proxy_ports.values(),
              *a.runtime.engine_ports.values(), a.runtime.engine.admin_port}
        pb = {b.runtime.toxiproxy_port, *b.runtime.ports.values(), *b.runtime.proxy_ports.values(),
              *b.runtime.engine_ports.values(), b.runtime.engine.admin_port}
        assert not pa & pb
        a.toxiproxy.disable("front->back")
        assert b.request("front", "GET", "/ping").status == 200


def test_stop_leaves_no_process_and_frees_ports(mini, state_dir):
    mesh = Mesh(mini, state_dir=state_dir).start()
    pids = mesh_pids(mesh)
    assert len(pids) == PROCESSES
    mesh.stop()
    assert alive(pids) == []
    assert list(state_dir.glob("runs/*/state.json")) == []


def test_a_service_that_crashes_at_start_names_itself_and_its_log(mini, state_dir, tmp_path):
    data = {
        "services": {"front": {"command": ["{python}", "-c", "import sys; print('boom: bad flag'); sys.exit(3)"]},
                     "back": {"command": ["{python}", str(MINI.parent / "app.py"), "back"]}},
        "edges": {"front->back": {"env": "BACK_URL"}},
    }
    with pytest.raises(MeshNotReady) as info:
        Mesh(Topology.from_dict(data, MINI.parent), state_dir=state_dir).start()
    msg = str(info.value)
    assert "front exited with code 3 while starting" in msg and "front.log" in msg and "boom: bad flag" in msg
    assert list(state_dir.glob("runs/*/state.json")) == []  # the half-started mesh was torn down


def test_a_relative_script_missing_from_the_topologys_folder_says_where_commands_run(mini, state_dir, tmp_path):
    """The topology moved into a subfolder: `app/main.py` is looked up there, and the error says so."""
    folder = tmp_path / "chaos"
    folder.mkdir()
    data = {
        "services": {"front": {"command": ["{python}", "app/main.py"]},
                     "back": {"command": ["{python}", str(MINI.parent / "app.py"), "back"]}},
        "edges": {"front->back": {"env": "BACK_URL"}},
    }
    with pytest.raises(MeshNotReady) as info:
        Mesh(Topology.from_dict(data, folder), state_dir=state_dir).start()
    msg = str(info.value)
    assert "front exited with code 2 while starting" in msg and "can't open file" in msg
    assert (f"commands run in the topology's folder {folder} (relative paths are relative to it; "
            "{root} is that folder)") in msg


def test_a_service_that_never_gets_healthy_times_out_clearly(mini, state_dir):
    data = {
        "services": {"front": {"command": ["sleep", "30"], "start_timeout_s": 0.5},
                     "back": {"command": ["{python}", str(MINI.parent / "app.py"), "back"]}},
        "edges": {"front->back": {"env": "BACK_URL"}},
    }
    with pytest.raises(MeshNotReady, match=r"front never became healthy in 0.5 s; last check: .*refused.* on 127.0.0.1:\d+; its log: "):
        Mesh(Topology.from_dict(data, MINI.parent), state_dir=state_dir).start()


RUNNER = textwrap.dedent("""
    import json, sys, time
    from harness.mesh import Mesh
    from harness.topology import load_topology
    mesh = Mesh(load_topology(sys.argv[1]), state_dir=__import__("pathlib").Path(sys.argv[2]),
                detached=sys.argv[3] == "detached").start()
    pids = [(p.popen.pid, p.ticks) for p in mesh.runtime._procs.values()]
    print(json.dumps(pids), flush=True)
    try:
        time.sleep(60)
    finally:
        mesh.stop()
""")


def start_runner(state_dir, how):
    import json
    proc = subprocess.Popen([sys.executable, "-c", RUNNER, str(MINI), str(state_dir), how],
                            stdout=subprocess.PIPE, text=True)
    pids = [tuple(p) for p in json.loads(proc.stdout.readline())]
    assert len(alive(pids)) == PROCESSES
    return proc, pids


def wait_gone(pids, within_s=5.0):
    deadline = time.monotonic() + within_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.02)
    return alive(pids)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_of_the_runner_tears_everything_down(state_dir, sig):
    # SIGINT unwinds through Mesh.stop(); a plain Python runner dies on SIGTERM without
    # unwinding, and the kernel's parent-death signal takes every mesh process with it.
    proc, pids = start_runner(state_dir, "attached")
    proc.send_signal(sig)
    proc.wait(timeout=10)
    assert wait_gone(pids) == []


def test_kill_9_of_the_runner_leaves_nothing_after_the_next_run(state_dir):
    proc, pids = start_runner(state_dir, "attached")
    proc.kill()
    proc.wait()
    assert wait_gone(pids) == []  # PR_SET_PDEATHSIG: gone with their runner
    cleaned = reap_leftovers(state_dir)  # what the next run does before it starts
    assert len(cleaned) == 1 and "runner pid" in cleaned[0] and "is gone" in cleaned[0]
    assert list(state_dir.glob("runs/*/state.json")) == []


def test_a_detached_mesh_outlives_its_runner_until_cleaned_up(state_dir):
    proc, pids = start_runner(state_dir, "detached")
    proc.kill()
    proc.wait()
    time.sleep(0.2)
    assert len(alive(pids)) == PROCESSES  # `cascade up` meshes stay up between commands
    cleaned = reap_leftovers(state_dir, include_detached=True)
    assert sorted(line.split()[1] for line in cleaned) == ["back", "envoy", "front", "toxiproxy"]
    assert wait_gone(pids) == []
