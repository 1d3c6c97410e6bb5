"""What the bundled services write in their logs about a request (pure)."""

from __future__ import annotations

from services.common.web import logged_path


def test_a_session_token_in_the_path_never_reaches_a_log_line():
    scope = {"path": "/session/abc123secret", "path_params": {"token": "abc123secret"}}
    assert logged_path(scope) == "/session/<redacted>"


def test_other_paths_are_logged_as_they_are():
    assert logged_path({"path": "/home/alice", "path_params": {"user": "alice"}}) == "/home/alice"
    assert logged_path({"path": "/health"}) == "/health"
