"""HTTP faults: a dependency that is up and answers, but answers wrong, must not take its callers down.

Each fault is on one HTTP edge, through the HTTP engine (Envoy) beside the edge's Toxiproxy: the
callee's own code and config are untouched. The March 2023 answer itself (403, code 467) is in
test_march_2023_outage.py.
"""

from __future__ import annotations

from harness.faults import HttpDelay, HttpError, HttpReplace

from .support import observe_the_rest


def test_media_answering_a_proxy_error_page_with_200_gives_home_placeholder_images(mesh, chaos):
    """media's answers replaced by an HTML page with status 200 (media did the work): home shows placeholders."""
    page = HttpReplace("timeline->media", status=200, body="<html>502 Bad Gateway</html>",
                       headers={"content-type": "text/html"})
    with chaos.inject(page):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded", f"home: {home.verdict} ({home.reason})"
    assert "<html>" not in home.body_excerpt, home.body_excerpt
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=2.0)


def test_auth_answering_503_keeps_signed_in_users_on_their_cached_session(mesh, chaos):
    """Every session lookup answered 503 by auth's edge: home and deck serve the cached session, marked degraded."""
    mesh.journey("home")  # the session is looked up (and cached) at rest first
    with chaos.inject(HttpError("gateway->auth", status=503, body={"error": "auth overloaded"})):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded", f"home: {home.verdict} ({home.reason})"
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=2.0)


def test_a_slow_first_byte_from_timeline_is_cut_off_within_the_home_budget(mesh, chaos):
    """timeline's answers start 2 s late (HttpDelay, the connection itself healthy): home answers in its budget."""
    with chaos.inject(HttpDelay("gateway->timeline", ms=2000)):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    budget = mesh.topology.journeys["home"].budget_ms
    assert home.elapsed_ms < budget, f"home took {home.elapsed_ms:.0f} ms, budget {budget} ms"
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=3.0)
