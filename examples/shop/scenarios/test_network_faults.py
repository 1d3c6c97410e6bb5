"""Network faults on the shop's edges (Toxiproxy): a slow or unreachable dependency stays contained."""

from harness import Down, Latency

from .conftest import observe_the_rest


def test_the_catalogue_is_shown_without_prices_in_time_when_pricing_is_slow(mesh, chaos):
    with chaos.inject(Latency("storefront->pricing", ms=2_000)):
        browse = mesh.journey("browse")
        observe_the_rest(mesh, chaos)

    assert browse.verdict == "degraded", browse.reason    # x-shop-partial: prices, inside the budget
    assert browse.elapsed_ms < 1_000, browse.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()                            # ordering and pricing's own API untouched
    chaos.assert_recovers(within_s=5.0)


def test_orders_fail_fast_and_browsing_is_untouched_when_the_database_is_unreachable(mesh, chaos):
    with chaos.inject(Down("orders->db")):
        order = mesh.journey("order")
        observe_the_rest(mesh, chaos)

    assert order.verdict == "failed_fast", order.reason   # 503 "try again", never a fake 201
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=5.0)
