"""Reports from a real run: Allure results with steps and attachments, JUnit with the verdict table, `cascade report`."""

import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from harness.faults import Down
from harness.explore.journal import Journal

from .conftest import MINI

pytestmark = pytest.mark.integration
pytest_plugins = ["pytester"]

SCENARIOS = """
from harness.faults import Down, HttpError, Latency
from harness.plugin import RECORDER

def test_ping_stays_full_when_back_is_a_little_slow(mesh, chaos):
    with chaos.inject(Latency("front->back", ms=200)):
        assert mesh.journey("ping").verdict == "full"
    chaos.assert_contracts()

def test_ping_keeps_its_contract_when_back_is_very_slow(mesh, chaos):
    with chaos.inject(Latency("front->back", ms=1200)):  # inside front's 2 s timeout, over the 1 s budget
        mesh.journey("ping")
    chaos.assert_contracts()  # hung: carries the evidence itself

def test_recording_follows_alluredir(request, mesh, chaos):
    assert (RECORDER in request.node.stash) == bool(request.config.option.allure_report_dir)

def test_ping_while_back_answers_503(mesh, chaos):
    with chaos.inject(HttpError("front->back", status=503, body="busy")):
        mesh.journey("ping")

def test_ping_is_full_when_back_is_down(mesh, chaos):
    with chaos.inject(Down("front->back")):
        ping = mesh.journey("ping")
    assert ping.verdict == "full"  # a plain assert: the plugin adds the evidence
    # Last in the file: its teardown also stops the session's mesh, after the report has its logs.
"""


@pytest.fixture(scope="module")
def topology(tmp_path_factory) -> Path:
    """The fixture mesh with a 1 s budget on ping, so that latency can make it hang before front's 2 s timeout."""
    path = tmp_path_factory.mktemp("topology") / "topology.toml"
    text = MINI.read_text().replace("{root}", str(MINI.parent)).replace("budget_ms = 2500", "budget_ms = 1000")
    assert "budget_ms = 1000" in text
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory, toxiproxy_server, topology):
    """Run the scenarios once, with --alluredir and --junitxml, in a subprocess against the fixture mesh."""
    base = tmp_path_factory.mktemp("allure")
    (base / "test_reported.py").write_text(SCENARIOS)
    env = {**os.environ, "CASCADE_STATE_DIR": str(base / "state"), "TOXIPROXY_SERVER": toxiproxy_server}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--rootdir", str(base), "-c", os.devnull,
         f"--cascade-topology={topology}", f"--alluredir={base / 'results'}", f"--junitxml={base / 'junit.xml'}",
         str(base / "test_reported.py")],
        cwd=base, env=env, capture_output=True, text=True, timeout=180,
    )
    return base, done


def results(base: Path) -> dict[str, dict]:
    out = {}
    for f in (base / "results").glob("*-result.json"):
        data = json.loads(f.read_text())
        out[data["name"]] = data
    return out


def step_names(steps: list[dict]) -> list[str]:
    return [s["name"] for s in steps]


def test_each_scenario_is_an_allure_test_with_steps_for_baseline_faults_observations(run):
    base, done = run
    assert "2 failed, 3 passed" in done.stdout, done.stdout[-3000:]
    by_name = results(base)
    passed = by_name["test_ping_stays_full_when_back_is_a_little_slow"]
    assert passed["status"] == "passed"
    names = step_names(passed["steps"])
    assert names[0].startswith("baseline:") and step_names(passed["steps"][0]["steps"])[0].startswith("ping: full in")
    applied = [n for n in names if " applied Latency(front->back, ms=200" in n]
    reverted = [n for n in names if " reverted Latency(front->back, ms=200" in n]
    observed = [s for s in passed["steps"] if s["name"].startswith("observed 1 journey run while 1 fault active")]
    assert len(applied) == len(reverted) == len(observed) == 1
    assert names.index(applied[0]) < names.index(observed[0]["name"]) < names.index(reverted[0])
    # The observation step lasts as long as the request did: at least the 200 ms of latency.
    assert observed[0]["stop"] - observed[0]["start"] >= 200
    http = step_names(by_name["test_ping_while_back_answers_503"]["steps"])  # an HTTP fault like any other
    assert [n for n in http if " applied HttpError(front->back, 503)" in n]
    assert [n for n in http if " reverted HttpError(front->back, 503)" in n]
    hung = by_name["test_ping_keeps_its_contract_when_back_is_very_slow"]
    assert hung["status"] == "failed"
    during = next(s for s in hung["steps"] if s["name"].startswith("observed"))
    assert during["status"] == "failed" and during["steps"][0]["name"].startswith("ping: hung")


def test_attachments_hold_the_pictures_the_evidence_the_timeline_and_log_tails(run):
    base, _ = run
    data = results(base)["test_ping_is_full_when_back_is_down"]
    files = {a["name"]: (a["type"], base / "results" / a["source"]) for a in data["attachments"]}
    for name in ("fault timeline", "topology and blast radius", "evidence", "journal.json", "timeline.json",
                 "log tail: back", "log tail: front"):
        assert name in files, sorted(files)
        assert files[name][1].stat().st_size > 0
    assert files["fault timeline"][0] == "image/svg+xml"
    timeline = ET.parse(files["fault timeline"][1]).getroot()
    bars = [e for e in timeline.iter() if e.get("class") == "fault-bar"]
    points = [e for e in timeline.iter() if e.get("class") == "obs"]
    assert [b.get("data-fault") for b in bars] == ["Down(front->back)"] and len(points) == 1
    topology = ET.parse(files["topology and blast radius"][1]).getroot()
    assert {e.get("data-edge") for e in topology.iter() if "faulted" in (e.get("class") or "")} == {"front->back"}
    assert "ping      full" in files["evidence"][1].read_text()
    recorded = json.loads(files["timeline.json"][1].read_text())
    assert [e["action"] for e in recorded["events"]] == ["applied", "reverted"]
    assert [o["verdict"] for o in recorded["observations"]] == ["failed_fast"]
    assert "front" in files["log tail: front"][1].read_text()
    journal = Journal.load(files["journal.json"][1])  # the format `cascade replay` reads
    assert [(s.action, s.fault) for s in journal.steps] == [("inject", Down("front->back")), ("heal", Down("front->back"))]
    assert [(c.kind, dict(c.verdicts), c.broken) for c in journal.checks] == [("contracts", {"ping": "failed_fast"}, ())]
    assert journal.message.startswith("AssertionError: assert 'failed_fast' == 'full'")


def test_junit_failure_text_carries_the_verdict_table_once(run):
    base, _ = run
    cases = {c.get("name"): c for c in ET.parse(base / "junit.xml").getroot().iter("testcase")}
    plain = cases["test_ping_is_full_when_back_is_down"].find("failure").text
    assert "cascade: evidence" in plain and "Down(front->back)" in plain
    assert "journey   baseline   during" in plain and "ping      full" in plain and "failed_fast" in plain
    evident = cases["test_ping_keeps_its_contract_when_back_is_very_slow"].find("failure").text
    assert evident.count("journey   baseline   during") == 1 and "cascade: evidence" not in evident
    assert cases["test_ping_stays_full_when_back_is_a_little_slow"].find("failure") is None


def test_without_alluredir_nothing_is_recorded(pytester, toxiproxy_server, monkeypatch, tmp_path):
    monkeypatch.setenv("CASCADE_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("TOXIPROXY_SERVER", toxiproxy_server)
    pytester.makepyfile(test_reported=SCENARIOS)
    result = pytester.runpytest_subprocess(f"--cascade-topology={MINI}", "-p", "no:cacheprovider",
                                           "-k", "recording_follows_alluredir")
    result.assert_outcomes(passed=1)


def cascade(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).with_name("cascade")
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=900, env=env or dict(os.environ))


@pytest.mark.skipif(not (shutil.which("java") and shutil.which("npm")), reason="cascade report needs Java and npm")
def test_cascade_report_builds_the_html_report_offline_and_says_where(run, tmp_path):
    base, _ = run
    out = tmp_path / "html"
    done = cascade("report", "--results", str(base / "results"), "--out", str(out), "--json")
    assert done.returncode == 0, done.stderr
    where = json.loads(done.stdout)
    assert where["index"] == str(out.resolve() / "index.html") and Path(where["index"]).exists()
    cases = [json.loads(f.read_text())["name"] for f in (out / "data" / "test-cases").glob("*.json")]
    assert "test_ping_is_full_when_back_is_down" in cases and len(cases) == 5
    svgs = list((out / "data" / "attachments").glob("*.svg"))
    assert len(svgs) >= 6  # two pictures per scenario that drove chaos


def test_cascade_report_says_in_one_line_what_is_missing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    done = cascade("report", "--results", str(empty), "--out", str(tmp_path / "html"))
    assert done.returncode == 2
    assert done.stderr.strip() == (f"cascade: error: no Allure results in {empty}: run pytest with --alluredir {empty} "
                                   "first, or point --results at the directory it wrote")
    (empty / "x-result.json").write_text("{}")
    no_java = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"} | {"PATH": str(tmp_path)}
    done = cascade("report", "--results", str(empty), "--out", str(tmp_path / "html"), env=no_java)
    assert done.returncode == 2 and done.stderr.startswith("cascade: error: java not found")
    assert len(done.stderr.strip().splitlines()) == 1
