"""Every `cascade` command run as a user would: a subprocess, its output and its exit status."""

import json
import os
import subprocess
import sys

import pytest

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
