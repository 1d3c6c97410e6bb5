"""The Envoy routes and bootstrap Cascade writes (pure): every rule before the route to the callee."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from harness.clients.envoy import EdgeListener, HttpRule, bootstrap, describe_route, route_config

EDGE = EdgeListener("timeline->media", 20001, ("127.0.0.1", 20002))


def routes(doc):
    return doc["resources"][0]["virtual_hosts"][0]["routes"]


def test_at_rest_there_is_only_the_route_to_the_callee():
    doc = route_config(EDGE, version=1)
    assert doc["version_info"] == "1" and doc["resources"][0]["name"] == "timeline__media"
    assert routes(doc) == [{"name": "callee", "match": {"prefix": "/"},
                            "route": {"cluster": "timeline__media", "timeout": "0s"}}]


def test_a_rule_becomes_a_direct_response_matched_by_path_method_and_percent():
    rule = HttpRule(status=404, body=b"gone", headers={"x-a": "1"}, percent=12.5, path="/media/*", method="GET")
    first = routes(route_config(EDGE, [rule], version=2))[0]
    assert first["match"] == {
        "prefix": "/media/", "headers": [{"name": ":method", "string_match": {"exact": "GET"}}],
        "runtime_fraction": {"default_value": {"numerator": 1250, "denominator": "TEN_THOUSAND"}},
    }
    assert first["direct_response"] == {"status": 404, "body": {"inline_bytes": base64.b64encode(b"gone").decode()}}
    assert first["response_headers_to_add"][0]["header"] == {"key": "x-a", "value": "1"}


def test_an_exact_path_and_every_request():
    first = routes(route_config(EDGE, [HttpRule(status=500, path="/login")], version=3))[0]
    assert first["match"] == {"path": "/login"}


def test_the_bootstrap_has_a_listener_and_a_cluster_per_edge_routes_from_the_directory(tmp_path: Path):
    boot = bootstrap([EDGE], admin_port=20003, routes_dir=tmp_path)
    (listener,) = boot["static_resources"]["listeners"]
    assert listener["address"]["socket_address"] == {"address": "127.0.0.1", "port_value": 20001}
    rds = listener["filter_chains"][0]["filters"][0]["typed_config"]["rds"]
    assert rds["config_source"]["path_config_source"]["path"] == str(tmp_path / "timeline__media.json")
    (cluster,) = boot["static_resources"]["clusters"]
    assert cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "127.0.0.1", "port_value": 20002}


@pytest.mark.parametrize(("rule", "shown"), [
    (HttpRule(status=403), "abort 403"),
    (HttpRule(status=404, path="/media/*", method="GET", percent=30), "abort 404 GET /media/* 30%"),
    (HttpRule(status=500, first=3, path="/login"), "abort 500 first=3 /login"),
    (HttpRule(action="delay", delay_ms=800, percent=50), "delay 800ms 50%"),
    (HttpRule(action="replace", status=200, body=b"<html>"), "replace 200"),
])  # fmt: skip
def test_a_served_fault_route_reads_as_what_it_does(rule, shown):
    assert describe_route(routes(route_config(EDGE, [rule], version=1))[0]) == shown


def shown(rules):
    return [describe_route(r) for r in routes(route_config(EDGE, rules, version=1))[:-1]]


def test_a_delay_holds_the_answers_of_every_request_it_shares_instead_of_hiding_them():
    # newest first, as the engine keeps them: the error was added after the delay
    error, delay = HttpRule(status=503), HttpRule(action="delay", delay_ms=800)
    assert shown([error, delay]) == ["abort 503 after delay 800ms", "delay 800ms"]
    assert shown([delay, error]) == ["abort 503 after delay 800ms", "delay 800ms"]  # the order does not matter


def test_where_a_delay_and_an_answer_only_overlap_a_narrowed_delayed_copy_goes_first():
    error = HttpRule(status=503, percent=30)
    delay = HttpRule(action="delay", delay_ms=300, path="/ping", percent=50)
    assert shown([error, delay]) == ["abort 503 /ping 30% after delay 300ms 50%", "abort 503 30%", "delay 300ms /ping 50%"]
    assert shown([HttpRule(status=404, path="/a"), HttpRule(action="delay", delay_ms=5, path="/b/*")]) == [
        "abort 404 /a", "delay 5ms /b/*"]  # disjoint: nothing shared
    get_only = HttpRule(action="delay", delay_ms=5, method="GET")
    assert shown([HttpRule(status=500, path="/x/*"), get_only]) == [
        "abort 500 GET /x/* after delay 5ms", "abort 500 /x/*", "delay 5ms GET"]
