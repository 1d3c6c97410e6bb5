"""Unit tests of the config service's protocol and of the shared middleware, in-process (no sockets)."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from starlette.routing import Route

with warnings.catch_warnings():
    # Starlette nudges towards httpx2 for its test client; the httpx we ship works for in-process calls.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from services import config as config_service
from services.common.config_default import DEFAULT_DOCUMENT
from services.common.context import note_degraded
from services.common.errors import DependencyFailure
from services.common.runtime import Runtime
from services.common.web import json_response

TOKEN = "t0ken-for-tests"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def client():
    rt, app = config_service.build({"PORT": "4000", "CASCADE_CONFIG_TOKEN": TOKEN})
    with TestClient(app) as c:
        yield c


def test_version_one_is_the_default_document(client):
    body = client.get("/config").json()
    assert body["version"] == 1 and body["document"] == DEFAULT_DOCUMENT
    assert json.loads(body["raw"]) == DEFAULT_DOCUMENT


def test_any_bytes_are_stored_and_served_back(client):
    r = client.put("/config", content=b'{"plans": ', headers={**AUTH, "x-config-note": "oops"})
    assert (r.status_code, r.json()) == (201, {"version": 2})
    body = client.get("/config").json()
    assert body == {"version": 2, "document": None, "raw": '{"plans": '}
    history = client.get("/config/history").json()
    assert [h["version"] for h in history] == [1, 2]
    assert history[1]["note"] == "oops" and history[1]["bytes"] == 10 and len(history[1]["sha256"]) == 64


@pytest.mark.parametrize("headers", [{}, {"authorization": "Bearer wrong"}, {"authorization": TOKEN}])
def test_pushes_without_the_token_are_refused(client, headers):
    r = client.put("/config", content=b"{}", headers=headers)
    assert (r.status_code, r.json()) == (401, {"error": "config push needs a valid bearer token"})
    assert client.post("/config/rollback", json={"to_version": 1}, headers=headers).status_code == 401
    assert client.get("/config").json()["version"] == 1


def test_rollback_makes_a_new_version_with_the_old_content(client):
    client.put("/config", content=b"[1]", headers=AUTH)
    r = client.post("/config/rollback", json={"to_version": 1}, headers=AUTH)
    assert (r.status_code, r.json()) == (201, {"version": 3})
    assert client.get("/config").json()["document"] == DEFAULT_DOCUMENT
    assert client.get("/config/history").json()[2]["note"] == "rollback to version 1"


def test_rollback_to_an_unknown_version_names_the_versions(client):
    r = client.post("/config/rollback", json={"to_version": 9}, headers=AUTH)
    assert (r.status_code, r.json()) == (404, {"error": "no config version 9; versions are 1..1"})
    assert client.post("/config/rollback", json={"to": 1}, headers=AUTH).status_code == 400


def test_pollers_get_304_while_nothing_changed(client):
    etag = client.get("/config").headers["etag"]
    assert client.get("/config", headers={"if-none-match": etag}).status_code == 304
    client.put("/config", content=b"{}", headers=AUTH)
    assert client.get("/config", headers={"if-none-match": etag}).status_code == 200


def test_counters_report_the_current_version(client):
    client.put("/config", content=b"{}", headers=AUTH)
    counters = client.get("/counters").json()
    assert counters["service"] == "config" and counters["config_version"] == 2
    assert counters["requests"] == 1  # the push; plumbing routes are not counted


# -- the shared middleware on a tiny service ------------------------------------------------


def tiny(brittle: str = "") -> TestClient:
    env = {"PORT": "4001", "CASCADE_MODE": "brittle" if brittle else "resilient", "CASCADE_BRITTLE": brittle}
    rt = Runtime("tiny", (), environ=env)

    async def degraded(request: Any) -> Any:
        note_degraded("stale_timeline")
        return json_response({"ok": True})

    async def failing(request: Any) -> Any:
        raise DependencyFailure("timeline", "error_status", "answered 503", status=503, body=b"internal detail")

    async def buggy(request: Any) -> Any:
        raise KeyError("rate_limits")

    return TestClient(rt.app([Route("/degraded", degraded), Route("/failing", failing), Route("/buggy", buggy)]))


def test_a_fallback_sets_the_degraded_header_and_is_counted():
    with tiny() as c:
        r = c.get("/degraded")
        assert r.headers["x-cascade-degraded"] == "stale_timeline"
        assert c.get("/counters").json()["fallbacks"] == {"stale_timeline": 1}
        c.post("/counters/reset")
        assert c.get("/counters").json()["fallbacks"] == {}


def test_resilient_failures_are_a_clear_503_never_the_internal_body():
    with tiny() as c:
        r = c.get("/failing")
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert r.json() == {"error": "the timeline is temporarily unavailable; please retry shortly", "retry_after_s": 1}
        bug = c.get("/buggy")
        assert bug.status_code == 500 and "Traceback" not in bug.text and "rate_limits" not in bug.text


def test_error_passthrough_forwards_bodies_and_tracebacks():
    with tiny("error_passthrough") as c:
        r = c.get("/failing")
        assert (r.status_code, r.content) == (503, b"internal detail")
        assert "Traceback (most recent call last)" in c.get("/buggy").text


# -- the store on disk: a restart serves what was acknowledged before it ----------------------


def _built(data_dir) -> TestClient:
    return TestClient(config_service.build({"PORT": "4000", "CASCADE_CONFIG_TOKEN": TOKEN,
                                            "CASCADE_DATA_DIR": str(data_dir)})[1])


def test_a_restarted_config_service_serves_every_version_it_acknowledged(tmp_path):
    with _built(tmp_path) as first:
        assert first.put("/config", content=b'{"a": 1}', headers={**AUTH, "x-config-note": "one"}).json() == {"version": 2}
        assert first.put("/config", content=b"\xff not json", headers=AUTH).json() == {"version": 3}
        assert first.post("/config/rollback", json={"to_version": 2}, headers=AUTH).json() == {"version": 4}
        before = first.get("/config/history").json()
    with _built(tmp_path) as second:  # a new process on the same data dir, as after a Kill
        assert second.get("/config/history").json() == before
        assert second.get("/config").json() == {"version": 4, "document": {"a": 1}, "raw": '{"a": 1}'}
        assert second.post("/config/rollback", json={"to_version": 3}, headers=AUTH).json() == {"version": 5}
        assert second.get("/config").json()["raw"] == "\ufffd not json"


def test_a_push_torn_by_a_kill_is_dropped_and_the_store_goes_on_after_the_last_whole_version(tmp_path):
    with _built(tmp_path) as first:
        first.put("/config", content=b'{"a": 1}', headers=AUTH)
    store = tmp_path / config_service.STORE_FILE
    whole = store.read_bytes()
    store.write_bytes(whole + b'{"version": 3, "raw": "eyJi')  # killed in the middle of an append
    with _built(tmp_path) as second:
        assert second.get("/config").json()["version"] == 2
        assert second.put("/config", content=b'{"b": 2}', headers=AUTH).json() == {"version": 3}
    assert store.read_bytes().startswith(whole) and store.read_bytes().count(b"\n") == 3


def test_without_a_data_dir_a_restart_is_back_at_version_one(client):
    assert client.put("/config", content=b"{}", headers=AUTH).json() == {"version": 2}
    with TestClient(config_service.build({"PORT": "4000", "CASCADE_CONFIG_TOKEN": TOKEN})[1]) as again:
        assert again.get("/config").json()["version"] == 1


# -- the applied-version protocol (docs/service-protocol.md) ---------------------------------


def test_the_config_service_reads_no_config_and_says_so(client):
    client.put("/config", content=b"{}", headers=AUTH)
    state = client.get("/cascade/v1/state").json()
    assert state == {"service": "config", "config_version": None, "config_rejected": [], "calls_abandoned": {},
                     "calls_sent": {}}
    assert client.get("/counters").json()["requests"] == 1  # the state route is plumbing: not counted


def test_a_consumer_reports_what_it_applied_rejected_gave_up_on_and_sent():
    from services.common.config_state import initial_state, offer

    env = {"PORT": "4001", "CASCADE_MODE": "resilient", "CASCADE_BRITTLE": ""}
    rt = Runtime("tiny", (), environ=env)
    rt.config_state, _ = offer(initial_state(), 3, DEFAULT_DOCUMENT, validate=True)
    rt.config_state, _ = offer(rt.config_state, 4, {"plans": "not a table"}, validate=True)
    rt.counters.failures.update({"media:timeout": 2, "media:cancelled": 1, "media:unreachable": 5, "redis:timeout": 1})
    rt.counters.calls.update({"media": 12, "redis": 4})
    with TestClient(rt.app([])) as c:
        state = c.get("/cascade/v1/state").json()
    assert state == {"service": "tiny", "config_version": 3, "config_rejected": [4],
                     "calls_abandoned": {"media": 3, "redis": 1}, "calls_sent": {"media": 12, "redis": 4}}
