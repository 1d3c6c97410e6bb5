"""Process faults: a service killed (and restarted when the fault ends) or frozen; the rest of the mesh carries on.

A faulted service cuts every edge into and out of it, so the blast radius is every journey
that declares one of those edges (or enters at the service).
"""

from __future__ import annotations

from harness.faults import BadConfig, Kill, Pause
from services import presets

from .support import observe_the_rest, wait_for_config

CLEAR_503 = "temporarily unavailable"


def test_home_and_post_fail_fast_while_the_timeline_is_killed_and_every_journey_recovers_within_3s(mesh, chaos):
    """With the timeline killed, home and post fail fast with a clear 503, login, images and links stay full, and all is back within 3 s of its restart."""
    with chaos.inject(Kill("timeline")):
        home = mesh.journey("home")
        post = mesh.journey("post")
        observe_the_rest(mesh, chaos)

    for obs in (home, post):
        assert obs.verdict == "failed_fast" and obs.status == 503, obs.reason
        assert CLEAR_503 in obs.body_excerpt and not obs.leaked, obs.body_excerpt
    for name in ("login", "image", "link"):
        assert chaos.during[name].verdict == "full", chaos.during[name].reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=3.0)


def test_home_is_served_on_cached_sessions_while_auth_is_paused(mesh, chaos):
    """With auth frozen (SIGSTOP), home is served on the cached session in time and login fails fast with a clear 503."""
    with chaos.inject(Pause("auth")):
        home = mesh.journey("home")
        login = mesh.journey("login")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded" and "session_cache" in home.fallbacks, home.reason
    assert home.elapsed_ms < 1_200, home.reason
    assert login.verdict == "failed_fast" and login.status == 503, login.reason
    assert CLEAR_503 in login.body_excerpt and not login.leaked, login.body_excerpt
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_links_keep_redirecting_while_the_gateway_is_killed(mesh, chaos):
    """Short links never depend on the API gateway: with the gateway killed, a link still redirects, full and fast."""
    with chaos.inject(Kill("gateway")):
        link = mesh.journey("link")
        observe_the_rest(mesh, chaos)

    assert link.verdict == "full" and link.status == 302, link.reason
    assert link.elapsed_ms < 500, link.reason
    for name in ("home", "login", "deck"):
        obs = chaos.during[name]
        assert obs.verdict == "failed_fast" and not obs.leaked, f"{name}: {obs.reason}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_killing_the_config_service_changes_nothing_for_users_and_its_restart_still_cannot_hand_out_a_broken_config(mesh, chaos):
    """With the config service killed every journey stays full; restarted, it serves the version it had and still cannot get a malformed push accepted."""
    served = mesh.config().current()
    acked = mesh.config().push(served.raw, note="acknowledged before the kill")  # the same document, a new version
    wait_for_config(mesh, acked, applied=True)
    with chaos.inject(Kill("config")):
        without_config = {n: mesh.journey(n) for n in sorted(mesh.topology.journeys)}
    kept = mesh.config().current().version
    assert (kept, mesh.config().current().raw) == (acked, served.raw), "the restart lost an acknowledged push"
    restarted = wait_for_config(mesh, kept, applied=True)
    with chaos.inject(BadConfig(raw=presets.malformed(mesh.config().current().document), name="malformed")):
        pushed = mesh.config().current().version
        seen = wait_for_config(mesh, pushed, before=restarted)
        after_push = {n: mesh.journey(n) for n in sorted(mesh.topology.journeys)}

    off = {n: o.reason for n, o in {**without_config, **after_push}.items() if o.verdict != "full"}
    assert not off, f"journeys changed while the config service was dead or broken: {off}"
    assert {c["config_version"] for c in restarted.values()} == {kept}
    for service, counters in seen.items():
        assert pushed in counters["config_rejected"] and counters["config_version"] == kept, f"{service}: {counters}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()

