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
    assert rds["config_source"]["path_config_source"] == {
        "path": str(tmp_path / "timeline__media" / "routes.json"), "watched_directory": {"path": str(tmp_path / "timeline__media")}}
    (cluster,) = boot["static_resources"]["clusters"]
    assert cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "127.0.0.1", "port_value": 20002}
    assert cluster["type"] == "STATIC" and boot["admin"]["address"]["socket_address"]["address"] == "127.0.0.1"


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


def test_in_a_container_it_binds_every_interface_and_reaches_a_callee_by_name_through_dns(tmp_path: Path):
    by_name = EdgeListener("timeline->media", 11000, ("media", 8000))
    boot = bootstrap([by_name, EDGE], admin_port=9901, routes_dir=Path("/etc/cascade/envoy/routes"),
                     listen_host="0.0.0.0", admin_host="0.0.0.0")
    assert boot["admin"]["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 9901}
    assert {lst["address"]["socket_address"]["address"] for lst in boot["static_resources"]["listeners"]} == {"0.0.0.0"}
    dns, static = boot["static_resources"]["clusters"]
    # STRICT_DNS as Envoy 1.40 spells it: every address its own host, re-resolved (a restarted container moves)
    assert "type" not in dns and dns["cluster_type"]["name"] == "envoy.cluster.dns"
    assert dns["cluster_type"]["typed_config"]["all_addresses_in_single_endpoint"] is False
    assert dns["cluster_type"]["typed_config"]["dns_refresh_rate"] == "0.5s"
    assert static["type"] == "STATIC"  # an IP stays STATIC: the local runtime's bootstrap is unchanged
    rds = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["rds"]
    assert rds["config_source"]["path_config_source"]["watched_directory"] == {"path": "/etc/cascade/envoy/routes/timeline__media"}


def test_the_engine_writes_on_the_host_and_names_the_paths_envoy_sees(tmp_path: Path):
    import json

    from harness.clients.envoy import EnvoyEngine

    engine = EnvoyEngine([EDGE], admin_port=9901, workdir=tmp_path, served_workdir=Path("/etc/cascade/envoy"),
                         admin_url="http://127.0.0.1:32768", listen_host="0.0.0.0", admin_host="0.0.0.0")
    argv = engine.prepare(envoy="envoy")
    assert argv[:3] == ["envoy", "-c", "/etc/cascade/envoy/envoy.json"]
    assert (tmp_path / "routes" / "timeline__media" / "routes.json").is_file()  # written on the host
    boot = json.loads((tmp_path / "envoy.json").read_text())
    rds = boot["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]["rds"]
    assert rds["config_source"]["path_config_source"]["path"] == "/etc/cascade/envoy/routes/timeline__media/routes.json"
    assert engine.admin_url == "http://127.0.0.1:32768"
    assert EnvoyEngine([EDGE], admin_port=9901, workdir=tmp_path).admin_url == "http://127.0.0.1:9901"


def test_files_for_an_envoy_running_as_another_user_are_readable_whatever_the_umask(tmp_path: Path):
    import os

    from harness.clients.envoy import EnvoyEngine

    old = os.umask(0o077)
    try:
        engine = EnvoyEngine([EDGE], admin_port=9901, workdir=tmp_path, file_mode=0o644)
        engine.prepare(envoy="envoy")
        engine._write(EDGE, [HttpRule(status=503)])  # what apply() writes while Envoy runs
    finally:
        os.umask(old)
    for f in [tmp_path / "envoy.json", tmp_path / "routes" / "timeline__media" / "routes.json"]:
        assert f.stat().st_mode & 0o777 == 0o644, f
