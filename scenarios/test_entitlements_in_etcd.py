"""The gateway's entitlement rules live in etcd: a broken revision is refused there, and nobody notices.

The push goes to the etcd key itself (config source `entitlements`); the gateway validates each
revision it sees and keeps its last good rules. Its log says which (`entitlements revision N
rejected`), and that is how the push knows, without waiting on a timer.
"""

from __future__ import annotations

from harness.faults import BadConfig
from harness.mesh import Mesh

from .support import observe_the_rest


def refused_by_the_gateway(mesh: Mesh) -> None:
    __tracebackhide__ = True
    applied = mesh.config("entitlements").last_applied
    assert applied is not None and applied.rejected == ("gateway",), f"the gateway did not refuse the push: {applied}"


def test_a_malformed_entitlements_revision_is_refused_and_every_journey_stays_full(mesh, chaos):
    """Half a JSON document in etcd: the gateway keeps its rules, and free and paid third parties keep their access."""
    rules = mesh.config("entitlements").current()
    with chaos.inject(BadConfig(raw=rules.raw[: len(rules.raw) // 2], name="truncated rules", source="entitlements")):
        refused_by_the_gateway(mesh)
        seen = {name: mesh.journey(name) for name in sorted(mesh.topology.journeys)}
        observe_the_rest(mesh, chaos)

    off = {n: f"{o.verdict} ({o.reason})" for n, o in seen.items() if o.verdict != "full"}
    assert not off, f"journeys changed by a refused entitlements revision: {off}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_rules_naming_an_unknown_plan_are_refused_and_third_parties_keep_their_plans(mesh, chaos):
    """tiers.third_party_paid = "gold" (no such plan): refused, so the paid app keeps its access."""
    with chaos.inject(BadConfig.out_of_range("tiers.third_party_paid", "gold", source="entitlements")):
        refused_by_the_gateway(mesh)
        paid, free = mesh.journey("thirdparty_paid"), mesh.journey("thirdparty_free")
        observe_the_rest(mesh, chaos)

    assert (paid.verdict, free.verdict) == ("full", "full"), f"paid: {paid.reason}; free: {free.reason}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()
