"""Parallel isolation: `pytest -n 2` (pytest-xdist) runs two meshes at once without any collision.

Each xdist worker is its own pytest session, so it gets its own session mesh: its own
toxiproxy-server, ports leased under a lock no other mesh can take, its own run id. Two checks:

- two meshes of the fixture topology up at the same time (`--dist each`): no shared port,
  process or run, and a fault in one (same proxy name!) leaves the other untouched;
- a subset of the resilience suite covering several families gives the same outcomes
  under `-n 2` as serially.
"""

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from harness.suite.verify import parse_junit

from .conftest import MINI

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
SUBSET = [
    "scenarios/test_bad_config.py::test_a_malformed_config_is_rejected_and_the_last_known_good_kept",
    "scenarios/test_march_2023_outage.py::test_ending_free_api_access_leaves_links_images_deck_login_home_and_post_full",
    "scenarios/test_network_cascades.py::test_home_timeline_degrades_when_media_is_slow",
    "scenarios/test_process_faults.py::test_home_is_served_on_cached_sessions_while_auth_is_paused",
]

TWO_MESHES = textwrap.dedent("""
    import json, os, time
    from pathlib import Path
    from harness.faults import Down

    OUT = Path(os.environ["PARALLEL_OUT"])

    def wait_for(name):
        deadline = time.monotonic() + 60
        while not (OUT / name).exists():
            assert time.monotonic() < deadline, f"the other worker never wrote {name}"
            time.sleep(0.05)

    def test_two_meshes_at_once(mesh, chaos):
        me = os.environ["PYTEST_XDIST_WORKER"]
        rt = mesh.runtime
        (OUT / f"{me}.json").write_text(json.dumps({
            "ports": sorted([rt.toxiproxy_port, *rt.ports.values(), *rt.proxy_ports.values()]),
            "pids": sorted(rt.pid(n) for n in ["toxiproxy", *mesh.topology.services]),
            "run": rt.record.run_id,
            "seed": mesh.seed,
            "proxies": sorted(mesh.toxiproxy.proxies()),
        }))
        wait_for("gw0.json"); wait_for("gw1.json")  # both meshes are up now
        if me == "gw0":
            with chaos.inject(Down("front->back")):
                (OUT / "down").write_text(mesh.journey("ping").verdict)
                wait_for("checked")
        else:
            wait_for("down")
            (OUT / "checked").write_text(mesh.journey("ping").verdict)
""")


def pytest_run(args, tmp_path, toxiproxy_server, **env):
    full_env = dict(os.environ, CASCADE_STATE_DIR=str(tmp_path / "state"), TOXIPROXY_SERVER=toxiproxy_server, **env)
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
                          cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=600)
    return done, time.monotonic() - t0


def test_two_meshes_at_once_share_no_port_process_or_run_and_faults_stay_in_their_mesh(tmp_path, toxiproxy_server):
    (tmp_path / "test_two.py").write_text(TWO_MESHES)
    out = tmp_path / "out"
    out.mkdir()
    done, _ = pytest_run(["-n", "2", "--dist", "each", "-p", "no:randomly", f"--cascade-topology={MINI}",
                          "--rootdir", str(tmp_path), str(tmp_path / "test_two.py")],
                         tmp_path, toxiproxy_server, PARALLEL_OUT=str(out))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    a, b = (json.loads((out / f"gw{i}.json").read_text()) for i in (0, 1))
    assert set(a["ports"]).isdisjoint(b["ports"]) and len(a["ports"]) == len(b["ports"]) == 1 + 2 + 1
    assert set(a["pids"]).isdisjoint(b["pids"]) and a["run"] != b["run"]
    assert a["proxies"] == b["proxies"] == ["front->back"]  # same proxy name, different servers
    assert a["seed"] == b["seed"]  # the controller's seed (the header's) in both workers: reproducible
    assert (out / "down").read_text() == "failed_fast"  # the fault worked in gw0's mesh...
    assert (out / "checked").read_text() == "full"  # ...and did not reach gw1's mesh
    assert list((tmp_path / "state").glob("runs/*/state.json")) == []


def run_both(tests, tmp_path, toxiproxy_server, attempt):
    """Outcomes and seconds of `tests` run serially and with two workers."""
    outcomes, seconds = {}, {}
    for label, extra in (("serial", []), ("parallel", ["-n", "2"])):
        xml = tmp_path / f"{label}-{attempt}.xml"
        done, seconds[label] = pytest_run([*extra, "-p", "no:randomly", f"--junitxml={xml}", *tests],
                                          tmp_path, toxiproxy_server)
        outcomes[label] = parse_junit(xml)
        assert len(outcomes[label]) == len(tests), done.stdout[-3000:]
    return outcomes, seconds


def test_a_subset_of_the_suite_has_the_same_outcomes_serially_and_with_two_workers(tmp_path, toxiproxy_server):
    outcomes, seconds = run_both(SUBSET, tmp_path, toxiproxy_server, 1)
    print(f"serial {seconds['serial']:.1f} s, -n 2 {seconds['parallel']:.1f} s: {outcomes['parallel']}")
    differ = sorted(t for t in outcomes["serial"] if outcomes["serial"][t] != outcomes["parallel"].get(t))
    if differ:
        # A collision between the two meshes differs every time; a scenario's own rare timing flake
        # (see the soak numbers in the closing notes) does not come back on a second run of both.
        again, _ = run_both([t for t in SUBSET if _id(t) in differ], tmp_path, toxiproxy_server, 2)
        assert again["parallel"] == again["serial"], (
            f"first run: serial {outcomes['serial']}, -n 2 {outcomes['parallel']}; "
            f"again: serial {again['serial']}, -n 2 {again['parallel']}")
    assert list((tmp_path / "state").glob("runs/*/state.json")) == []


def _id(nodeid: str) -> str:
    """'scenarios/test_x.py::test_y' -> 'test_x::test_y', the form parse_junit gives."""
    path, name = nodeid.split("::", 1)
    return f"{Path(path).stem}::{name}"
