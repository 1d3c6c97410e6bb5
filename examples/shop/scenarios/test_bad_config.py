"""Bad configuration the usual ways: pricing's JSON file, its CURRENCY variable, nginx's site file."""

from harness import BadConfig

from .conftest import observe_the_rest


def test_pricing_rejects_an_out_of_range_discount_and_every_journey_stays_full(mesh, chaos):
    with chaos.inject(BadConfig.out_of_range("discount_percent", 150, source="pricing")):
        applied = mesh.config("pricing").last_applied
        seen = {name: mesh.journey(name) for name in sorted(mesh.topology.journeys)}

    assert applied.rejected == ("pricing",), applied     # "pricing config rejected ..." in its log
    for name, obs in seen.items():
        assert obs.verdict == "full", f"{name}: {obs.reason}"
    chaos.assert_contracts()
    chaos.assert_blast_radius()


def test_pricing_rejects_a_file_that_is_not_json_and_keeps_its_last_good_prices(mesh, chaos):
    with chaos.inject(BadConfig(raw='{"base_cents": {"p1": 1200', source="pricing")):
        applied = mesh.config("pricing").last_applied
        browse = mesh.journey("browse")
        observe_the_rest(mesh, chaos)

    assert applied.rejected == ("pricing",), applied
    assert browse.verdict == "full", browse.reason
    chaos.assert_blast_radius()


def test_a_good_price_change_is_applied_and_served(mesh, chaos):
    with chaos.inject(BadConfig.out_of_range("markup_percent", 20, source="pricing")):
        applied = mesh.config("pricing").last_applied
        r = mesh.request("pricing", "GET", "/prices?ids=p1")

    assert applied.running == ("pricing",), applied
    assert b'"p1":1440' in r.body, r.body                 # 1200 * 1.20: the push took effect


def test_a_currency_pricing_cannot_start_with_leaves_the_catalogue_degraded_not_failed(mesh, chaos):
    with chaos.inject(BadConfig(patch={"CURRENCY": "euro"}, source="currency")):
        applied = mesh.config("currency").last_applied
        browse = mesh.journey("browse")
        observe_the_rest(mesh, chaos)

    assert "pricing" in applied.behind, applied            # it exits at start: CURRENCY is not ISO 4217
    assert browse.verdict == "degraded", browse.reason
    chaos.assert_contracts()
    chaos.assert_blast_radius()
    chaos.assert_recovers(within_s=5.0)


def test_nginx_keeps_its_last_good_site_when_an_invalid_one_is_pushed(mesh, chaos):
    with chaos.inject(BadConfig(raw="location /api/ { proxy_pas http://storefront/; }\n", source="site")):
        applied = mesh.config("site").last_applied
        seen = {name: mesh.journey(name) for name in sorted(mesh.topology.journeys)}

    assert applied.rejected == ("front",), applied          # [emerg] unknown directive; workers kept
    for name, obs in seen.items():
        assert obs.verdict == "full", f"{name}: {obs.reason}"
    chaos.assert_blast_radius()
