"""The pytest plugin driven from the outside (pytester runs a throwaway test file in a subprocess)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from .conftest import MINI, alive

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]


@pytest.fixture
def run(pytester, tmp_path, monkeypatch, toxiproxy_server):
    """Run pytest in a subprocess with the fixture topology and a private state dir."""
    monkeypatch.setenv("CASCADE_STATE_DIR", str(tmp_path / "state"))
    # pytester gives the subprocess a fresh HOME; hand it the already provisioned server.
    monkeypatch.setenv("TOXIPROXY_SERVER", toxiproxy_server)

    def go(*args):
        return pytester.runpytest_subprocess(f"--cascade-topology={MINI}", "-p", "no:cacheprovider", *args)

    return go


SCENARIOS = """
import pytest
from harness.faults import Latency, Down

def test_fault_is_visible_inside_the_block(mesh, chaos):
    with chaos.inject(Latency("front->back", ms=300)):
        assert mesh.request("front", "GET", "/ping").elapsed_ms >= 300
    assert mesh.request("front", "GET", "/ping").elapsed_ms < 300

def test_a_fault_left_applied_is_reverted_at_teardown(mesh, chaos):
    chaos.apply(Down("front->back"))
    assert mesh.request("front", "GET", "/ping").status == 503

def test_the_next_test_starts_from_baseline(mesh):
    proxy = mesh.toxiproxy.proxy("front->back")
    assert proxy.enabled and proxy.toxics == ()

def test_marker_is_added(request, mesh):
    assert request.node.get_closest_marker("chaos") is not None

def test_unit_tests_do_not_start_a_mesh(request):
    assert request.node.get_closest_marker("chaos") is None
"""


def test_fixtures_apply_and_revert_faults_and_header_shows_the_run(pytester, run):
    pytester.makepyfile(test_scenarios=SCENARIOS)
    result = run("-v", "--cascade-seed=1234")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["cascade: topology=mini runtime=local mode=resilient toxiproxy=2.12.0* seed=1234"])


def test_a_failing_scenario_shows_the_fault_timeline_and_log_tails(pytester, run):
    pytester.makepyfile(test_fail="""
from harness.faults import Latency
def test_home_is_fast(mesh, chaos):
    with chaos.inject(Latency("front->back", ms=200)):
        r = mesh.request("front", "GET", "/ping")
    assert r.elapsed_ms < 100, "too slow"
""")
    result = run()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*cascade: fault timeline*",
        "*applied*Latency(front->back, ms=200*",
        "*reverted*Latency(front->back, ms=200*",
        "*cascade: service logs*",
        "*--- back (last * lines) ---*",
    ])


def test_a_failed_revert_fails_the_test_loudly(pytester, run):
    pytester.makepyfile(test_revert="""
import os, signal
from harness.faults import Latency
def test_toxiproxy_dies_mid_test(mesh, chaos):
    chaos.apply(Latency("front->back", ms=100))
    os.kill(mesh.runtime.pid("toxiproxy"), signal.SIGKILL)
""")
    result = run()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*RevertFailed: could not revert Latency(front->back, ms=100*did not answer*NOT at its baseline*"])


def test_bad_options_are_refused_before_anything_starts(pytester, run):
    pytester.makepyfile(test_x="def test_x(mesh): pass")
    result = run("--cascade-mode=brittle:warp")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*unknown brittle knob 'warp'*knobs are: nothing*"])
    result = pytester.runpytest_subprocess("--cascade-topology=/nope.toml")
    result.stderr.fnmatch_lines(["*cannot read topology '/nope.toml'*"])


def test_ctrl_c_during_a_scenario_leaves_nothing_behind(pytester, tmp_path, toxiproxy_server):
    pids_file = tmp_path / "pids.json"
    pytester.makepyfile(test_slow=f"""
import json, time
from harness.faults import Latency
def test_slow(mesh, chaos):
    chaos.apply(Latency("front->back", ms=100))
    pids = [(p.popen.pid, p.ticks) for p in mesh.runtime._procs.values()]
    open({str(pids_file)!r}, "w").write(json.dumps(pids))
    time.sleep(60)
""")
    env = dict(os.environ, CASCADE_STATE_DIR=str(tmp_path / "state"), TOXIPROXY_SERVER=toxiproxy_server)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", f"--cascade-topology={MINI}", "-p", "no:cacheprovider"],
                            cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while not pids_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.1)
    pids = [tuple(p) for p in json.loads(pids_file.read_text())]
    assert len(alive(pids)) == 4  # back, front, toxiproxy, envoy
    proc.send_signal(signal.SIGINT)
    out = proc.communicate(timeout=30)[0].decode()
    assert "KeyboardInterrupt" in out
    assert alive(pids) == []
    assert list((tmp_path / "state").glob("runs/*/state.json")) == []


REPORTER_CONFTEST = """
import json, os
from harness.report.base import register_reporter

@register_reporter("listing")
class Listing:
    records = True

    def enabled(self, config):
        return True

    def write(self, recording):
        with open(os.environ["LISTING_OUT"], "a") as out:
            out.write(json.dumps({"title": recording.title, "runtime": recording.runtime,
                                  "timeline": [(e.action, e.fault) for e in recording.chaos.timeline],
                                  "observed": sorted(o.journey for o in recording.recorder.observations)}) + "\\n")

    def classified(self, item, report, classification):
        pass
"""

REPORTED_SCENARIO = """
from harness.faults import Latency

def test_reported(mesh, chaos):
    with chaos.inject(Latency("front->back", ms=100)):
        mesh.journey("ping")
"""


def test_a_reporter_registered_in_a_conftest_gets_every_chaos_test_from_the_plugin(pytester, run, tmp_path, monkeypatch):
    out = tmp_path / "listing.jsonl"
    monkeypatch.setenv("LISTING_OUT", str(out))
    pytester.makeconftest(REPORTER_CONFTEST)
    pytester.makepyfile(test_reported=REPORTED_SCENARIO)
    run("-q").assert_outcomes(passed=1)
    (line,) = out.read_text().splitlines()
    got = json.loads(line)
    assert got["runtime"] == "local" and "test_reported" in got["title"]
    assert got["timeline"] == [["applied", "Latency(front->back, ms=100, jitter_ms=0, downstream)"],
                               ["reverted", "Latency(front->back, ms=100, jitter_ms=0, downstream)"]]
    assert "ping" in got["observed"]
