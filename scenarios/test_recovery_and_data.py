"""Recovery and data: after a fault ends every journey is back within a stated bound, and no acknowledged post is lost.

Recovery is timed by the harness from the last revert until every journey is back at its
steady-state verdict. A post counts as acknowledged when the load saw its 201 with an id; after
recovery every such id must read back from the timeline.
"""

from __future__ import annotations

from harness.chaos import Scheduled
from harness.faults import Down, Latency, Partition, ResetPeer

from .support import observe_the_rest


def test_every_journey_is_back_within_5s_after_redis_was_partitioned(mesh, chaos):
    """Once a partition of Redis ends, every journey is back at its steady state within 5 s (at most three stacked 1 s breaker resets)."""
    with chaos.inject(Partition("redis")):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded", home.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=5.0)


def test_home_is_back_to_full_within_3s_after_media_was_slow(mesh, chaos):
    """Once 2 s of latency on timeline->media ends, home shows real images again (full) within 3 s (one 1 s breaker reset)."""
    with chaos.inject(Latency("timeline->media", ms=2_000)):
        home = mesh.journey("home")
        observe_the_rest(mesh, chaos)

    assert home.verdict == "degraded", home.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=3.0)


def test_no_acknowledged_post_is_lost_when_redis_goes_down_under_load(mesh, chaos, load):
    """Posting at 10/s while timeline->redis is down for 1 s: every post acknowledged before, during or after reads back."""
    # 3.5 s of load: the outage and the breaker's 1 s reset take ~2 s of it, which leaves ~15
    # acknowledged posts to judge. Where recovery takes longer (a failed breaker probe on a busy
    # machine re-opens it for another second), the load goes on until 12 are acknowledged.
    posting = load("post", rate_per_s=10, duration_s=3.5, until_acked=12)
    with chaos.schedule(Scheduled(Down("timeline->redis"), at=0.5, for_=1.0)) as outage:
        outage.wait(timeout_s=5)
        posting.wait()

    stats = posting.window(journey="post")
    assert stats.verdicts.get("full", 0) >= 10, f"too few posts acknowledged to judge: {stats.describe()}"
    assert "post" in chaos.during, "no post was sent while Redis was down"
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=4.0)
    assert chaos.assert_no_lost_writes(posting, "post") == stats.verdicts["full"]


def test_no_acknowledged_post_is_lost_when_redis_resets_every_write(mesh, chaos, load):
    """Posting at 10/s while every timeline->redis connection is reset as the command goes out: no acknowledged post is lost."""
    posting = load("post", rate_per_s=10, duration_s=2.5, until_acked=12)
    reset = ResetPeer("timeline->redis", ms=0, direction="upstream")
    with chaos.schedule(Scheduled(reset, at=0.5, for_=1.0)) as outage:
        outage.wait(timeout_s=5)
        posting.wait()

    stats = posting.window(journey="post")
    assert stats.verdicts.get("full", 0) >= 10, f"too few posts acknowledged to judge: {stats.describe()}"
    assert "post" in chaos.during, "no post was sent while Redis connections were reset"
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=4.0)
    assert chaos.assert_no_lost_writes(posting, "post") == stats.verdicts["full"]
