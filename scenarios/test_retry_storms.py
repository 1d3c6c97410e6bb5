"""Retry storms: a failing or slow dependency must not be hit harder than the traffic that reaches it.

Two defences stand between a failing dependency and a storm: the retry policy (only transport
failures, 502 and 504, with backoff, inside the deadline and a retry budget) and the circuit
breaker. Each scenario here takes one of them alone. For the retry policy a valid config push
first makes the breakers tolerate 1000 consecutive failures, so that the breaker cannot hide
what the retries do; for the breaker, the retries are left as they are.

Amplification is counted by the harness from the caller's /counters: calls the caller sent on
the edge since the first fault, per journey request that crossed the edge. It is asserted as
soon as the load is done, before any other journey crosses the edge.
"""

from __future__ import annotations

from harness.faults import BadConfig, Down, Latency, Timeout

from .support import observe_the_rest, wait_for_config

BREAKERS_OUT_OF_THE_WAY = BadConfig(patch={"breaker.failure_threshold": 1000},
                                    name="breakers open only after 1000 failures (valid)")


def test_posts_failing_on_a_dead_redis_are_not_retried_into_a_storm_on_the_timeline(mesh, chaos, load):
    """With timeline->redis down, each failing post costs the timeline one call from the gateway, not one per retry (at most 1.5)."""
    with chaos.inject(BREAKERS_OUT_OF_THE_WAY, Down("timeline->redis")):
        wait_for_config(mesh, applied=True)
        posting = load("post", rate_per_s=15, duration_s=1.5)
        posting.wait()
        posts = posting.window(journey="post")
        ratio = chaos.assert_amplification("gateway->timeline", requests=posts.count, at_most=1.5)
        observe_the_rest(mesh, chaos)

    assert posts.count >= 15 and posts.verdicts.get("failed_fast") == posts.count, posts.describe()
    assert ratio >= 0.9, f"the load never reached the timeline ({ratio:.2f} calls per post)"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_a_slow_redis_is_not_retried_into_a_storm_by_the_timeline(mesh, chaos, load):
    """With 300 ms of latency on timeline->redis (its timeout is 100 ms), posting sends Redis at most 2.5 calls per post (the retry budget: 20% of calls plus a reserve of 10)."""
    with chaos.inject(BREAKERS_OUT_OF_THE_WAY, Latency("timeline->redis", ms=300)):
        wait_for_config(mesh, applied=True)
        posting = load("post", rate_per_s=15, duration_s=2.0)
        posting.wait()
        posts = posting.window(journey="post")
        ratio = chaos.assert_amplification("timeline->redis", requests=posts.count, at_most=2.5)
        observe_the_rest(mesh, chaos)

    assert posts.count >= 20 and set(posts.verdicts) <= {"full", "failed_fast"}, posts.describe()
    assert ratio >= 0.9, f"the load never reached Redis ({ratio:.2f} calls per post)"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_the_gateway_stops_calling_a_blackholed_media_once_its_breaker_opens(mesh, chaos, load):
    """With gateway->media swallowing every byte, the breaker opens and images get the placeholder at once: at most 0.75 calls per image request."""
    with chaos.inject(Timeout("gateway->media", ms=0)):
        images = load("image", rate_per_s=20, duration_s=2.0)
        images.wait()
        stats = images.window(journey="image")
        chaos.assert_amplification("gateway->media", requests=stats.count, at_most=0.75)
        observe_the_rest(mesh, chaos)

    assert stats.count >= 30 and stats.verdicts.get("degraded") == stats.count, stats.describe()
    late = images.window(start=images.started_at + 1.0, journey="image")
    assert late.p50_ms < 300, f"once the breaker is open, images must not wait for media: {late.describe()}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_home_stops_waiting_for_a_blackholed_media_once_the_timelines_breaker_opens(mesh, chaos, load):
    """With timeline->media swallowing every byte, home reads soon stop calling media (at most 1 call per read, 3 to 4 normally) and answer in under 250 ms."""
    with chaos.inject(Timeout("timeline->media", ms=0)):
        reads = load("home", rate_per_s=10, duration_s=2.0)
        reads.wait()
        stats = reads.window(journey="home")
        chaos.assert_amplification("timeline->media", requests=stats.count, at_most=1.0)
        observe_the_rest(mesh, chaos)

    assert stats.count >= 15 and stats.verdicts.get("degraded") == stats.count, stats.describe()
    # Every call that waits for media waits its full 300 ms timeout: a read under 250 ms did not call it.
    late = reads.window(start=reads.started_at + 1.0, journey="home")
    assert late.p50_ms < 250, f"once the breaker is open, home must not wait for media: {late.describe()}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()
