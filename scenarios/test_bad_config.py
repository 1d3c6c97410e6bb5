"""Bad configuration pushes: every invalid document is rejected, the last known good one kept, nothing else changes.

Each scenario pushes one broken document built on the one the mesh runs now, waits until every
service has seen it, and checks that each one rejected it and stayed on the version before,
while every journey stays full. The config service itself stores anything; validating is the
consumers' job. Blast radius of a push: the config service, i.e. only the free third-party
journey (it declares gateway->config).
"""

from __future__ import annotations

from typing import Any

from harness.faults import BadConfig, Down, Latency
from harness.mesh import Mesh
from services import presets

from .support import config_consumers, config_counters, wait_for_config


def assert_rejected_by_every_service(seen: dict[str, dict[str, Any]], version: int, kept: int) -> None:
    __tracebackhide__ = True
    for service, counters in seen.items():
        assert version in counters["config_rejected"], f"{service} did not reject version {version}: {counters}"
        assert counters["config_version"] == kept, f"{service} left version {kept}: {counters}"


def assert_all_full(observed: dict[str, Any]) -> None:
    __tracebackhide__ = True
    off = {n: f"{o.verdict} ({o.reason})" for n, o in observed.items() if o.verdict != "full"}
    assert not off, f"journeys changed by a rejected config: {off}"


def push_and_observe(mesh: Mesh, chaos: Any, bad: BadConfig) -> None:
    """Push `bad`, check every service rejected it and stayed on the version before, and every journey is full."""
    __tracebackhide__ = True
    kept = settled_version(mesh)
    before = config_counters(mesh)
    with chaos.inject(bad):
        pushed = mesh.config().current().version
        seen = wait_for_config(mesh, pushed, before=before)
        observed = {n: mesh.journey(n) for n in sorted(mesh.topology.journeys)}

    assert_rejected_by_every_service(seen, pushed, kept)
    assert_all_full(observed)
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def settled_version(mesh: Mesh) -> int:
    """The current version, once every service runs it (the previous scenario's rollback may still be on its way)."""
    version = mesh.config().current().version
    wait_for_config(mesh, version, applied=True)
    return version


def current(mesh: Mesh) -> dict[str, Any]:
    return mesh.config().current().document


def test_a_malformed_config_is_rejected_and_the_last_known_good_kept(mesh, chaos):
    """A document that is not JSON at all is rejected by every service; every journey stays full."""
    push_and_observe(mesh, chaos, BadConfig(raw=presets.malformed(current(mesh)), name="malformed"))


def test_a_config_with_a_timeout_of_the_wrong_type_is_rejected(mesh, chaos):
    """timeouts_ms.redis = "100ms" (a string) is rejected by every service; every journey stays full."""
    push_and_observe(mesh, chaos, BadConfig(presets.wrong_type("timeouts_ms.redis", "100ms", current(mesh)),
                                            name="wrong type timeouts_ms.redis"))


def test_a_config_missing_its_timeouts_section_is_rejected(mesh, chaos):
    """A document without its timeouts_ms section is rejected by every service; every journey stays full."""
    push_and_observe(mesh, chaos, BadConfig(presets.missing_section("timeouts_ms", current(mesh)),
                                            name="missing timeouts_ms"))


def test_a_zero_timeline_timeout_is_rejected(mesh, chaos):
    """timeouts_ms.timeline = 0 is out of range and rejected; home and post keep reaching the timeline."""
    push_and_observe(mesh, chaos, BadConfig(presets.zero_timeout("timeline", current(mesh)), name="zero timeout"))


def test_a_zero_post_rate_limit_is_rejected(mesh, chaos):
    """rate_limits.post = 0 is out of range and rejected; posting stays full."""
    push_and_observe(mesh, chaos, BadConfig(presets.zero_rate_limit("post", current(mesh)), name="zero rate limit"))


def config_edges(mesh: Mesh) -> list[str]:
    return [f"{s}->{mesh.topology.config_service}" for s in config_consumers(mesh)]


def test_a_bad_push_made_while_the_config_service_is_unreachable_is_rejected_once_it_is_back(mesh, chaos):
    """With every X->config edge down, services keep their config and stay full; the push made meanwhile is rejected when they reconnect."""
    kept = settled_version(mesh)
    with chaos.inject(*(Down(edge) for edge in config_edges(mesh))):
        counters = config_counters(mesh)
        before = {s: c["config_version"] for s, c in counters.items()}
        # applied, not injected: the bad version must outlive the outage, so that the services meet it on reconnecting
        chaos.apply(BadConfig(raw=presets.malformed(current(mesh)), name="malformed"))
        pushed = mesh.config().current().version
        cut_off = {n: mesh.journey(n) for n in sorted(mesh.topology.journeys)}
        unchanged = {s: mesh.counters(s)["config_version"] for s in config_consumers(mesh)}
    seen = wait_for_config(mesh, pushed, before=counters)
    reconnected = {n: mesh.journey(n) for n in sorted(mesh.topology.journeys)}
    chaos.revert_all()

    assert unchanged == before, f"services changed config while they could not reach it: {before} -> {unchanged}"
    assert_all_full(cut_off)
    assert_rejected_by_every_service(seen, pushed, kept)
    assert_all_full(reconnected)
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_a_bad_push_through_a_slow_config_service_is_still_rejected(mesh, chaos):
    """With 300 ms of latency on every X->config edge, a malformed push still reaches every service and is rejected; journeys stay full."""
    slow = [Latency(edge, ms=300) for edge in config_edges(mesh)]
    malformed = BadConfig(raw=presets.malformed(current(mesh)), name="malformed")
    kept = settled_version(mesh)
    before = config_counters(mesh)
    with chaos.inject(*slow):
        with chaos.inject(malformed):
            pushed = mesh.config().current().version
            seen = wait_for_config(mesh, pushed, before=before)
            observed = {n: mesh.journey(n) for n in sorted(mesh.topology.journeys)}

    assert_rejected_by_every_service(seen, pushed, kept)
    assert_all_full(observed)
    chaos.assert_contracts()
    chaos.assert_blast_radius()

