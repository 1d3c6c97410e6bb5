"""Process faults: a killed or frozen service is contained; a killed database comes back with its data."""

from harness import Kill, Pause

from .conftest import observe_the_rest


def test_the_catalogue_is_degraded_not_failed_when_pricing_is_killed(mesh, chaos):
    with chaos.inject(Kill("pricing")):
        browse = mesh.journey("browse")
        quote = mesh.journey("quote")
        observe_the_rest(mesh, chaos)

    assert browse.verdict == "degraded", browse.reason
    assert quote.verdict == "failed_fast", quote.reason   # pricing's own API is down with it
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=5.0)


def test_the_catalogue_answers_in_time_when_pricing_is_frozen(mesh, chaos):
    with chaos.inject(Pause("pricing")):
        browse = mesh.journey("browse")
        observe_the_rest(mesh, chaos)

    assert browse.verdict == "degraded", browse.reason    # storefront's timeout, not the budget, decides
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=5.0)


def test_an_order_placed_before_postgres_is_killed_reads_back_after_it_restarts(mesh, chaos):
    placed = mesh.journey("order")
    assert placed.verdict == "full", placed.reason
    with chaos.inject(Kill("db")):
        order = mesh.journey("order")
        observe_the_rest(mesh, chaos)
    assert order.verdict == "failed_fast", order.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=10.0)
    import json
    oid = json.loads(placed.body_excerpt)["id"]
    back = mesh.request("orders", "GET", f"/orders/{oid}")
    assert back.status == 200 and oid in back.body.decode(), (back.status, back.body)
