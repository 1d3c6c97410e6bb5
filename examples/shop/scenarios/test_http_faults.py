"""HTTP faults (Envoy on the HTTP edges): an error answer from a dependency is contained."""

from harness import HttpError

from .conftest import observe_the_rest


def test_the_catalogue_is_degraded_when_pricing_answers_503(mesh, chaos):
    with chaos.inject(HttpError("storefront->pricing", status=503, body={"error": "pricing overloaded"})):
        browse = mesh.journey("browse")
        observe_the_rest(mesh, chaos)

    assert browse.verdict == "degraded", browse.reason
    assert "overloaded" not in browse.body_excerpt         # pricing's error is not passed to the shopper
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_a_failed_order_is_reported_as_a_failure_when_orders_answers_500(mesh, chaos):
    with chaos.inject(HttpError("storefront->orders", status=500, path="/orders", method="POST")):
        order = mesh.journey("order")
        observe_the_rest(mesh, chaos)

    assert order.verdict == "failed_fast", order.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()
