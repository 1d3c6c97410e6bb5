"""Network faults on single edges: the journeys that cross the edge degrade as declared, nothing else moves.

Every fault is one Toxiproxy proxy (an edge) or every proxy of one service (a partition). Each
scenario observes the journeys it is about, then every other journey one at a time while the
fault is still on, and asserts the contracts and the blast radius.
"""

from __future__ import annotations

import time

from harness.faults import Bandwidth, Down, LimitData, Latency, Partition, ResetPeer, Slicer, SlowClose, Timeout
from harness.chaos import flapping

from .support import observe_the_rest

CLEAR_503 = "temporarily unavailable"


def test_home_timeline_degrades_when_media_is_slow(mesh, chaos):
    """With 2 s of latency on timeline->media, home answers in time with placeholder images."""
    with chaos.inject(Latency("timeline->media", ms=2_000)):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded", home.reason
    assert "media_placeholder" in home.fallbacks
    assert home.elapsed_ms < 1_200, home.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()  # nothing outside media's dependents changed verdict


def test_home_timeline_serves_placeholder_images_when_media_is_down(mesh, chaos):
    """With timeline->media refusing connections, home is degraded to placeholders and images loaded through the API stay full."""
    with chaos.inject(Down("timeline->media")):
        home = mesh.journey("home")
        image = mesh.journey("image")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded" and "media_placeholder" in home.fallbacks, home.reason
    assert image.verdict == "full", image.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_images_fall_back_to_a_placeholder_when_media_is_partitioned(mesh, chaos):
    """With every edge of media cut, an image request gets the placeholder image quickly and home keeps its posts."""
    with chaos.inject(Partition("media")):
        image = mesh.journey("image")
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert image.verdict == "degraded" and image.fallbacks == ("media_placeholder",), image.reason
    assert "chirp-placeholder" in image.body_excerpt
    assert image.elapsed_ms < 1_000, image.reason
    assert home.verdict == "degraded", home.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_reads_fall_back_and_writes_fail_fast_with_a_clear_503_when_redis_is_down(mesh, chaos):
    """With every edge of Redis cut, home, deck and links are served from caches; post and login fail fast with a clear 503."""
    with chaos.inject(Partition("redis")):
        home = mesh.journey("home")
        link = mesh.journey("link")
        post = mesh.journey("post")
        login = mesh.journey("login")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded", home.reason
    assert link.verdict == "degraded" and link.fallbacks == ("links_local_cache",), link.reason
    for write in (post, login):
        assert write.verdict == "failed_fast" and write.status == 503, write.reason
        assert CLEAR_503 in write.body_excerpt and not write.leaked, write.body_excerpt
        assert write.headers.get("retry-after"), f"{write.journey}: a 503 must say when to retry"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_links_keep_redirecting_from_their_cache_when_their_redis_is_down(mesh, chaos):
    """With links->redis refusing connections, a short link still redirects (from the local cache), well inside its budget."""
    with chaos.inject(Down("links->redis")):
        link = mesh.journey("link")
        observe_the_rest(mesh, chaos)

    assert link.verdict == "degraded" and link.fallbacks == ("links_local_cache",), link.reason
    assert link.headers.get("location") == "https://example.test/article/1"
    assert link.elapsed_ms < 500, link.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_rides_out_a_flapping_redis(mesh, chaos, load):
    """While timeline->redis flaps three times, every home read is answered, posts are stored or refused, login, images and links stay full."""
    traffic = load("home", "post", rate_per_s=10, duration_s=2.0)
    with chaos.schedule(*flapping(Down("timeline->redis"), start=0.1, down_s=0.3, up_s=0.3, times=3)) as flaps:
        until = time.monotonic() + 1.9
        while time.monotonic() < until:  # the journeys outside the radius, one at a time, across the flaps
            for name in ("login", "image", "link"):
                mesh.journey(name)
        flaps.wait(timeout_s=5)
        traffic.wait()

    home = traffic.window(journey="home")
    assert home.count >= 8 and home.availability == 1.0, home.describe()
    post = traffic.window(journey="post")
    assert set(post.verdicts) <= {"full", "failed_fast"}, post.describe()
    assert {"home", "login", "image", "link"} <= set(chaos.during), f"seen while Redis was down: {sorted(chaos.during)}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_serves_a_stale_timeline_when_redis_resets_connections(mesh, chaos):
    """With every timeline->redis connection reset by peer, home serves its stale copy and post fails fast with a clear 503."""
    with chaos.inject(ResetPeer("timeline->redis", ms=0)):
        home = mesh.journey("home")
        post = mesh.journey("post")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded" and "stale_timeline" in home.fallbacks, home.reason
    assert post.verdict == "failed_fast" and CLEAR_503 in post.body_excerpt and not post.leaked, post.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_serves_a_stale_timeline_when_redis_replies_are_truncated(mesh, chaos):
    """With timeline->redis connections cut after 64 bytes of reply, home serves its stale copy in time."""
    with chaos.inject(LimitData("timeline->redis", bytes_=64)):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded" and "stale_timeline" in home.fallbacks, home.reason
    assert home.elapsed_ms < 1_000, home.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_does_not_wait_for_a_redis_that_dribbles_its_replies(mesh, chaos):
    """With timeline->redis replies sliced into 8-byte pieces 20 ms apart, home gives up on Redis and serves its stale copy in time."""
    with chaos.inject(Slicer("timeline->redis", avg_bytes=8, delay_us=20_000)):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded" and "stale_timeline" in home.fallbacks, home.reason
    assert home.elapsed_ms < 1_000, home.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_does_not_wait_for_redis_connections_that_are_cut_and_closed_slowly(mesh, chaos):
    """With timeline->redis replies cut after 64 bytes and the close held back 3 s, home serves its stale copy in time."""
    with chaos.inject(LimitData("timeline->redis", bytes_=64), SlowClose("timeline->redis", ms=3_000)):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded" and "stale_timeline" in home.fallbacks, home.reason
    assert home.elapsed_ms < 1_000, home.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_fails_fast_with_a_clear_503_when_the_timeline_is_blackholed(mesh, chaos):
    """With gateway->timeline swallowing every byte, home and post fail fast with a clear 503 inside their budget, never hang."""
    with chaos.inject(Timeout("gateway->timeline", ms=0)):
        home = mesh.journey("home")
        post = mesh.journey("post")
        observe_the_rest(mesh, chaos)

    for obs in (home, post):
        assert obs.verdict == "failed_fast" and obs.status == 503, obs.reason
        assert CLEAR_503 in obs.body_excerpt and not obs.leaked, obs.body_excerpt
        assert obs.elapsed_ms < 1_300, obs.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_uses_cached_sessions_and_login_fails_fast_when_auth_is_slow(mesh, chaos):
    """With 2 s of latency on gateway->auth, home is served on the cached session and login fails fast with a clear 503."""
    with chaos.inject(Latency("gateway->auth", ms=2_000)):
        home = mesh.journey("home")
        login = mesh.journey("login")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded" and "session_cache" in home.fallbacks, home.reason
    assert login.verdict == "failed_fast" and login.status == 503, login.reason
    assert CLEAR_503 in login.body_excerpt and not login.leaked, login.body_excerpt
    assert login.elapsed_ms < 1_300, login.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_images_degrade_to_a_placeholder_when_media_bandwidth_is_starved(mesh, chaos):
    """With gateway->media capped at 800 kbit/s (a 197 KB image would take 2 s), the image journey gets the placeholder in time."""
    with chaos.inject(Bandwidth("gateway->media", kbps=800)):
        image = mesh.journey("image")
        observe_the_rest(mesh, chaos)

    assert image.verdict == "degraded" and image.fallbacks == ("media_placeholder",), image.reason
    assert image.elapsed_ms < 1_000, image.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()
