"""Every `cascade` command run as a user would: a subprocess, its output and its exit status."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from harness.clients.probe import http_request
from harness.runtime.runstate import process_start_ticks

from .conftest import MINI, alive

pytestmark = pytest.mark.integration


def cascade(*args, env=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_doctor_reports_the_pinned_toxiproxy():
    r = cascade("doctor")
    assert r.returncode == 0, r.stderr
    assert "toxiproxy-server" in r.stdout and "2.12.0" in r.stdout
    rows = json.loads(cascade("doctor", "--json").stdout)
    server = next(row for row in rows if row["what"] == "toxiproxy-server")
    assert server["ok"] and "2.12.0" in server["finding"]


def test_doctor_names_every_route_when_toxiproxy_cannot_be_had(tmp_path):
    r = cascade("doctor", "--provision", env={"TOXIPROXY_SERVER": str(tmp_path / "nope")})
    assert r.returncode == 2
    assert "TOXIPROXY_SERVER" in r.stderr and str(tmp_path / "nope") in r.stderr


def test_cleanup_with_nothing_to_clean(tmp_path):
    r = cascade("cleanup", env={"CASCADE_STATE_DIR": str(tmp_path)})
    assert (r.returncode, r.stdout.strip()) == (0, "nothing to clean up")


def test_unknown_command_is_a_one_line_usage_error():
    r = cascade("explode")
    assert r.returncode == 2 and "invalid choice: 'explode'" in r.stderr


def test_demo_shows_the_cascade_on_brittle_and_none_on_resilient(tmp_path):
    r = subprocess.run([sys.executable, "-m", "harness.cli", "demo"], capture_output=True, text=True, timeout=120,
                       cwd=tmp_path, env={**os.environ, "CASCADE_STATE_DIR": str(tmp_path / "state")})
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "Your current API plan does not include access" in out
    assert "brittle: 6 first-party journeys broken by a third-party policy change" in out
    assert "resilient: 7 of 8 journeys full; only the free third-party tier got a clear 403" in out
    report = json.loads(next((tmp_path / ".cascade" / "demo").glob("*/report.json")).read_text())
    assert report["brittle"]["during"]["link"]["verdict"] == "wrong"
    assert [h["version"] for h in report["resilient"]["config_history"]] == [1, 2]


# -- up / status / inject / heal / down: a mesh that stays up between commands ------------------------


@pytest.fixture
def shell(tmp_path, toxiproxy_server):
    """`cascade ...` as a new user types it, with a private state dir; whatever is left is stopped after."""
    env = {"CASCADE_STATE_DIR": str(tmp_path / "state"), "TOXIPROXY_SERVER": toxiproxy_server, "NO_COLOR": ""}

    def run(*args, timeout=120):
        return cascade(*args, env=env, timeout=timeout)

    run.state = tmp_path / "state"
    yield run
    cascade("cleanup", "--all", env=env)


def up_mini(shell):
    r = shell("up", "--topology", str(MINI), "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def get(url, path, timeout_s=10.0):
    u = urlsplit(url)
    return http_request(u.hostname, u.port, "GET", path, timeout_s=timeout_s)


def ping(status):
    """The fixture mesh's one journey: front's /ping, which crosses the proxy of front->back."""
    return get(next(s["url"] for s in status["services"] if s["name"] == "front"), "/ping")


def left_behind(state: Path, pid_ticks) -> list[str]:
    """Everything of a mesh that must be gone after `cascade down`: processes, state files, port locks."""
    left = [f"process {pid}" for pid, _t in alive(pid_ticks)]
    left += [str(p) for p in (state / "up").glob("*.json")] + [str(p) for p in state.glob("runs/*/state.json")]
    for lock in (state / "ports").glob("*.lock"):
        with open(lock, "rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                left.append(f"port lease {lock.name}")
    return left


def pids_of(status):
    pids = [status["holder_pid"]] + [s["pid"] for s in status["services"] if s["pid"]]
    return [(pid, process_start_ticks(pid)) for pid in pids]


def test_up_inject_status_heal_down_as_a_user_would_and_nothing_is_left(shell):
    st = up_mini(shell)
    assert {s["name"]: s["health"] for s in st["services"]} == {"back": "ok", "front": "ok"}
    assert st["toxiproxy"]["version"] == "2.12.0" and "cascade status" in st["next"]
    pid_ticks = pids_of(st)
    assert ping(st).elapsed_ms < 600

    r = shell("inject", "front->back", "latency", "ms=800")
    assert r.returncode == 0, r.stderr
    assert "applied Latency(front->back, ms=800" in r.stdout and "cascade heal 'front->back'" in r.stdout

    text = shell("status")
    assert text.returncode == 0 and "\033[" not in text.stdout  # no colour when not on a terminal
    assert "latency downstream jitter=0 latency=800" in text.stdout and "faults (1 recorded)" in text.stdout
    status = json.loads(shell("status", "--json").stdout)
    assert [(f["kind"], f["state"], f["targets"]) for f in status["faults"]] == [("latency", "active", ["front->back"])]
    # The real Toxiproxy has the toxic, and a request through the edge pays for it.
    real = get(status["toxiproxy"]["url"], "/proxies/front->back/toxics").json()
    assert [(t["type"], t["attributes"]["latency"]) for t in real] == [("latency", 800)]
    slow = ping(status)
    assert slow.status == 200 and slow.body == b"front got: pong" and slow.elapsed_ms >= 750

    r = shell("heal", "front->back")
    assert r.returncode == 0 and "reverted Latency(front->back" in r.stdout
    status = json.loads(shell("status", "--json").stdout)
    assert status["faults"] == [] and status["proxies"][0]["toxics"] == []
    assert ping(status).elapsed_ms < 600

    r = shell("down")
    assert r.returncode == 0 and "mesh 'mini' is down" in r.stdout, r.stderr
    assert left_behind(shell.state, pid_ticks) == []
    r = shell("status")
    assert r.returncode == 2 and "no mesh is up" in r.stderr and "cascade up" in r.stderr


def test_http_faults_from_the_cli_show_in_status_as_envoy_serves_them_and_heal_reverts_them(shell, tmp_path):
    st = up_mini(shell)
    engine = st["http_engine"]
    assert engine["engine"] == "envoy 1.40.0" and [e["edge"] for e in engine["edges"]] == ["front->back"]
    body = tmp_path / "467.json"
    body.write_text('{"errors":[{"message":"Your current API plan does not include access","code":467}]}')

    r = shell("inject", "front->back", "http_error", "status=403", f"body=@{body}", "path=/ping")
    assert r.returncode == 0, r.stderr
    assert "applied HttpError(front->back, 403, /ping)" in r.stdout
    r = shell("inject", "front->back", "http_delay", "ms=300", "percent=50")
    assert r.returncode == 0, r.stderr
    text = shell("status").stdout
    # read back from Envoy: the error on /ping (held by the delay half the time), then the delay
    assert "HTTP engine (envoy 1.40.0" in text and "abort 403 /ping after delay 300ms 50%, delay 300ms 50%" in text, text
    edge = st["proxies"][0]["edge"]
    listen = json.loads(shell("status", "--json").stdout)["http_engine"]["edges"][0]["listen"]
    host, port = listen.split(":")
    answer = http_request(host, int(port), "GET", "/ping", timeout_s=5)
    assert answer.status == 403 and answer.json()["errors"][0]["code"] == 467
    assert answer.headers["content-type"] == "application/json"  # from the .json file

    r = shell("heal", edge)
    assert r.returncode == 0 and "reverted HttpError(front->back" in r.stdout, r.stdout
    after = json.loads(shell("status", "--json").stdout)
    assert after["faults"] == [] and after["http_engine"]["edges"][0]["rules"] == []
    assert ping(after).body == b"front got: pong"
    r = shell("inject", "front->back", "http_error", "status=99")
    assert r.returncode == 2 and "HttpError.status must be an HTTP status 200..599, got 99" in r.stderr


def test_process_faults_show_in_status_and_run_state_and_heal_restores_the_service(shell):
    st = up_mini(shell)
    assert shell("inject", "back", "pause").returncode == 0
    assert shell("inject", "front->back", "down").returncode == 0
    status = json.loads(shell("status", "--json").stdout)
    assert {s["name"]: s["state"] for s in status["services"]} == {"back": "paused", "front": "running"}
    assert status["proxies"][0]["enabled"] is False
    # Recorded where the reaper looks, so even a crashed holder leaves no unknown fault.
    run_state = json.loads(next(shell.state.glob("runs/*/state.json")).read_text())
    assert sorted(r["fault"] for r in run_state["resources"] if r["kind"] == "fault") == ["Down(front->back)", "Pause(back)"]
    assert ping(st).status == 503

    r = shell("heal", "back", "--json")  # a service heals its own faults and those on its edges
    assert r.returncode == 0 and sorted(json.loads(r.stdout)["reverted"]) == ["Down(front->back)", "Pause(back)"]
    assert shell("inject", "back", "kill").returncode == 0
    assert {s["name"]: s["state"] for s in json.loads(shell("status", "--json").stdout)["services"]}["back"] == "stopped"
    assert "reverted Kill(back)" in shell("heal").stdout
    status = json.loads(shell("status", "--json").stdout)
    assert [s["health"] for s in status["services"]] == ["ok", "ok"] and status["faults"] == []
    assert ping(status).body == b"front got: pong"
    assert not [r for r in json.loads(next(shell.state.glob("runs/*/state.json")).read_text())["resources"]]
    assert shell("down").returncode == 0


def test_bad_input_is_one_line_naming_the_value_and_the_fix(shell):
    assert "no mesh is up" in shell("inject", "front->back", "latency", "ms=1").stderr
    up_mini(shell)
    cases = [
        (("inject", "front->nope", "latency", "ms=1"), "unknown edge 'front->nope'; edges are: front->back"),
        (("inject", "front->back", "explode"), "unknown fault kind 'explode'; kinds are: latency"),
        (("inject", "front->back", "latency", "mss=1"), "latency has no parameter 'mss'; it takes: ms"),
        (("inject", "front->back", "latency", "ms=-5"), "Latency.ms must be >= 0, got -5"),
        (("inject", "middle", "kill"), "'middle'"),
        (("heal", "middle"), "unknown edge or service 'middle'; services are: back, front"),
        (("up", "--topology", str(MINI)), "mesh 'mini' is already up"),
        (("up", "--topology", str(MINI), "--mode", "brittle:nope"), "unknown brittle knob 'nope'"),
    ]
    for args, message in cases:
        r = shell(*args)
        assert r.returncode == 2, (args, r.stdout)
        assert r.stderr.startswith("cascade: error: ") and message in r.stderr, (args, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr
    assert "cascade down" in shell("up", "--topology", str(MINI)).stderr
    assert json.loads(shell("status", "--json").stdout)["faults"] == []  # nothing bad was applied
    assert shell("inject", "front->back", "latency", "ms=1").returncode == 0
    r = shell("inject", "front->back", "latency", "ms=2")
    assert r.returncode == 2 and "cannot stack on an active latency fault" in r.stderr
    assert "`cascade heal 'front->back'` first" in r.stderr
    assert [f["fault"] for f in json.loads(shell("status", "--json").stdout)["faults"]] == [
        "Latency(front->back, ms=1, jitter_ms=0, downstream)"]
    assert shell("down").returncode == 0


def test_a_killed_holder_is_reported_and_down_stops_what_it_left(shell):
    st = up_mini(shell)
    pid_ticks = pids_of(st)
    assert shell("inject", "front->back", "latency", "ms=100").returncode == 0
    os.kill(st["holder_pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while process_start_ticks(st["holder_pid"]) is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    r = shell("status")
    assert r.returncode == 2 and "has died" in r.stderr and "cascade down" in r.stderr
    assert ping(st).elapsed_ms >= 90  # detached: the mesh and its fault outlive the holder
    r = shell("down")
    assert r.returncode == 0, r.stderr
    assert "fault Latency(front->back, ms=100" in r.stdout and "killed toxiproxy" in r.stdout
    assert left_behind(shell.state, pid_ticks) == []


def test_cleanup_all_stops_an_up_mesh_and_its_holder(shell):
    st = up_mini(shell)
    pid_ticks = pids_of(st)
    r = shell("cleanup", "--all")
    assert r.returncode == 0 and "killed cascade-holder" in r.stdout and "killed toxiproxy" in r.stdout
    assert alive(pid_ticks) == [] and not list(shell.state.glob("runs/*/state.json"))
    r = shell("status")  # forgets the mesh cleanup stopped
    assert r.returncode == 2 and "no mesh is up" in r.stderr
    assert left_behind(shell.state, pid_ticks) == []


@pytest.mark.parametrize("command", ["up", "status", "inject", "heal", "down", "run"])
def test_every_mesh_command_has_help_with_examples(command):
    r = cascade(command, "--help")
    assert r.returncode == 0 and "examples:" in r.stdout and f"cascade {command}" in r.stdout


# -- run: the suite with live progress and a summary ------------------------------------------------

TINY_SUITE = """
    import pytest

    from harness import Latency


    def test_ping_is_full_at_rest(mesh):
        assert mesh.journey("ping").verdict == "full"


    def test_ping_pays_for_a_slow_back(mesh, chaos):
        with chaos.inject(Latency("front->back", ms=300)):
            assert mesh.journey("ping").elapsed_ms >= 300


    def test_fails_on_purpose():
        assert 1 == 2


    @pytest.mark.skip(reason="shows as skipped")
    def test_skipped():
        pass
"""


def test_run_shows_a_line_per_test_a_summary_table_and_exits_like_pytest(tmp_path, toxiproxy_server):
    (tmp_path / "test_tiny.py").write_text(textwrap.dedent(TINY_SUITE))
    env = {**os.environ, "CASCADE_STATE_DIR": str(tmp_path / "state"), "TOXIPROXY_SERVER": toxiproxy_server}

    def run(*args):
        return subprocess.run([sys.executable, "-m", "harness.cli", "run", *args, "test_tiny.py",
                               f"--cascade-topology={MINI}", "-p", "no:cacheprovider"],
                              capture_output=True, text=True, timeout=180, cwd=tmp_path, env=env)

    r = run()
    assert r.returncode == 1, r.stdout + r.stderr  # pytest's status: a test failed
    lines = [line for line in r.stdout.splitlines() if line.startswith("[")]
    assert [line.split()[:2] for line in lines] == [
        ["[1/4]", "passed"], ["[2/4]", "passed"], ["[3/4]", "failed"], ["[4/4]", "skipped"]]
    assert lines[2].endswith("test_tiny.py::test_fails_on_purpose")
    table = r.stdout[r.stdout.index("cascade run summary"):]
    assert "test_tiny.py::test_ping_pays_for_a_slow_back  passed" in table
    assert "4 tests: 1 failed, 2 passed, 1 skipped" in table
    assert "assert 1 == 2" in r.stdout  # pytest's own failure report is kept

    r = run("--json", "-k", "ping")
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["exit_status"] == 0 and summary["counts"] == {"passed": 2}
    slow = next(t for t in summary["tests"] if t["nodeid"].endswith("slow_back"))
    assert slow["outcome"] == "passed" and slow["seconds"] >= 0.3
    assert "[2/2] passed" in r.stderr and "cascade: topology=mini runtime=local" in r.stderr  # live display: stderr
