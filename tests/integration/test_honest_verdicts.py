"""Verdicts a team can trust, on a shop Cascade did not shape (tests/fixtures/shop): real catalog, real Redis.

- a journey broken at rest (its path answers 404) stops pytest, `cascade up` and `cascade explore`
  before any fault, naming the journey, its answer and the fix; the Down scenario that passed on
  it before the baseline gate can no longer pass;
- a deterministic bug found by exploring (Redis restarted: the product is gone) is `reproducible`
  and its journal is 1-minimal; a failure that does not fail again is `flaky`, with both runs;
- `--cascade-confirm` classifies a failed scenario by a rerun on a new mesh, and never turns it into a pass.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import strategies as st

from harness.explore.explorer import Explorer
from harness.faults import Down, Kill, Latency, Pause, Restart, Timeout
from harness.explore.journal import Journal, replay
from harness.mesh import Mesh
from harness.explore.minimize import FLAKY, REPRODUCIBLE
from harness.topology import load_topology

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

SHOP = Path(__file__).parents[1] / "fixtures" / "shop"
HEALTHY, BROKEN, FLAKY_SHOP = SHOP / "topology.toml", SHOP / "broken-path.toml", SHOP / "flaky.toml"
ROOT = Path(__file__).parents[2]

DOWN_SCENARIO = """
from harness import Down

def test_the_product_page_fails_fast_when_its_store_is_down(mesh, chaos):
    with chaos.inject(Down("catalog->redis")):
        product = mesh.journey("product")
    assert product.verdict in ("degraded", "failed_fast")
    chaos.assert_contracts()
    chaos.assert_blast_radius()
"""

BROKEN_AT_REST = "journey 'product': failed_fast at rest, wanted full: GET /products/1 on catalog answered HTTP 404 in"
THE_FIX = "is journeys.product.path right?"


@pytest.fixture
def env(tmp_path, monkeypatch, toxiproxy_server):
    monkeypatch.setenv("CASCADE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TOXIPROXY_SERVER", toxiproxy_server)
    return {**os.environ}


def test_the_down_scenario_passes_on_the_healthy_shop_and_cannot_pass_on_one_broken_at_rest(pytester, env):
    pytester.makepyfile(test_shop=DOWN_SCENARIO)
    healthy = pytester.runpytest_subprocess(f"--cascade-topology={HEALTHY}", "-p", "no:cacheprovider")
    healthy.assert_outcomes(passed=1)
    broken = pytester.runpytest_subprocess(f"--cascade-topology={BROKEN}", "-p", "no:cacheprovider")
    assert broken.ret == pytest.ExitCode.TESTS_FAILED
    out = broken.stdout.str()
    assert "passed" not in out.splitlines()[-1], out[-2000:]
    assert BROKEN_AT_REST in out and THE_FIX in out and "no such route" not in out.split(BROKEN_AT_REST)[0][-200:]
    assert "nothing was injected, no scenario was judged" in out


def _cli(*args: str, env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def test_cascade_up_refuses_a_mesh_broken_at_rest_and_leaves_nothing_up(env):
    done = _cli("up", "--topology", str(BROKEN), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert BROKEN_AT_REST in done.stderr and THE_FIX in done.stderr
    status = _cli("status", "--topology", str(BROKEN), env=env)
    assert status.returncode != 0 and "no mesh" in (status.stdout + status.stderr).lower()


def test_cascade_explore_stops_before_any_fault_on_a_mesh_broken_at_rest(env, tmp_path):
    done = _cli("explore", "--topology", str(BROKEN), "--budget", "30s", "--seed", "1", env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert BROKEN_AT_REST in done.stderr and THE_FIX in done.stderr
    assert "examples" not in done.stdout  # no example ran


# The faults explored here: a mix in which only a restart of Redis (or a kill, healed by a start)
# loses the product. Toxics that hold data on the Redis edge (slicer, bandwidth) are left out:
# removing one can hang Toxiproxy 2.12 for good (Shopify/toxiproxy#558), which is not what these
# tests are about.
MIX = [Latency("catalog->redis", ms=300), Down("catalog->redis"), Timeout("catalog->redis", ms=200),
       Pause("redis"), Kill("catalog"), Restart("catalog"), Restart("redis")]


def _explore(path: Path, tmp_path: Path, mix: list) -> tuple[Mesh, object]:
    mesh = Mesh(load_topology(path), state_dir=tmp_path / "state").start()
    try:
        mesh.steady_state()
        explorer = Explorer(mesh, seed=1, budget_s=60, topology_path=str(path), database_dir=tmp_path / "db",
                            journal_dir=tmp_path / "journals", config_faults=False)
        explorer.faults = st.sampled_from(mix)
        return mesh, explorer.run()
    except BaseException:
        mesh.stop()
        raise


def test_a_deterministic_bug_is_reproducible_and_its_journal_is_one_minimal(tmp_path):
    mesh, found = _explore(HEALTHY, tmp_path, MIX)
    try:
        assert found.failed, f"no failure in {found.examples} examples"
        journal = Journal.load(found.journal_path)
        assert journal.classification == REPRODUCIBLE and not found.flaky, journal.note
        injected = [s.fault for s in journal.steps if s.action == "inject"]
        assert len(journal.steps) == 1 and len(injected) == 1, [s.to_dict()["line"] for s in journal.steps]
        assert injected[0] == Restart("redis"), injected[0].describe()
        assert "product" in journal.message and journal.checks[-1].broken
        assert journal.rerun and journal.rerun[-1].broken  # the confirming rerun failed too
        assert all(r.removed for r in journal.removals)
        # and the journal replays with the same verdicts on the same mesh
        again = replay(mesh, journal)
        assert again.same, again.differences
    finally:
        mesh.stop()


def test_a_failure_that_does_not_fail_again_is_flaky_with_both_runs(tmp_path):
    mesh, found = _explore(FLAKY_SHOP, tmp_path, [f for f in MIX if "->" in f.target])  # network faults only
    mesh.stop()
    assert found.failed, f"no failure in {found.examples} examples"
    assert found.flaky and found.classification == FLAKY
    data = json.loads(found.journal_path.read_text())
    assert data["classification"] == "flaky" and data["removals"] == []
    assert data["checks"][-1]["broken"] and not any(c["broken"] for c in data["rerun"])  # failed, then passed
    assert any(v == "wrong" for c in data["checks"] for v in c["verdicts"].values())


def test_confirm_reruns_a_failed_scenario_and_calls_a_deterministic_failure_reproducible(pytester, env, tmp_path):
    pytester.makepyfile(test_shop="""
from harness import Restart

def test_the_product_survives_a_redis_restart(mesh, chaos):
    with chaos.inject(Restart("redis")):
        pass
    chaos.assert_recovers(within_s=2)
""")
    junit = tmp_path / "junit.xml"
    result = pytester.runpytest_subprocess(f"--cascade-topology={HEALTHY}", "-p", "no:cacheprovider",
                                           "--cascade-confirm", f"--junitxml={junit}")
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "rerunning it alone on a new mesh to classify it" in out
    assert "reproducible: it failed again when rerun alone on a new mesh with the same faults" in out
    xml = junit.read_text()
    assert 'name="cascade_failure_class" value="reproducible"' in xml and "reproducible: it failed again" in xml


def test_confirm_calls_a_failure_that_passes_when_rerun_flaky_and_it_still_fails(pytester, env, tmp_path):
    marker = tmp_path / "failed-once"
    pytester.makepyfile(test_shop=f"""
from pathlib import Path

def test_fails_only_the_first_time(mesh, chaos):
    marker = Path({str(marker)!r})
    if not marker.exists():
        marker.write_text("x")
        raise AssertionError("the first run fails")
""")
    result = pytester.runpytest_subprocess(f"--cascade-topology={HEALTHY}", "-p", "no:cacheprovider",
                                           "--cascade-confirm")
    result.assert_outcomes(failed=1)  # a flaky result is never turned into a pass
    out = result.stdout.str()
    assert "flaky: it passed when rerun alone on a new mesh with the same faults" in out
    assert "first run: failed: AssertionError: the first run fails" in out and "rerun:     passed" in out
