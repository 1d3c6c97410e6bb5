"""[config.NAME] tables: what each kind takes, the one-line errors for bad input, and BadConfig's routing (pure)."""

from __future__ import annotations

from typing import Any

import pytest

from harness.config.delivery import Evidence
from harness.config.formats import dump, parse
from harness.errors import InvalidFault, InvalidTopology
from harness.faults import BadConfig
from harness.topology import Topology


def topology(config: dict[str, Any], root: str = "/srv/shop", **mesh: Any) -> Topology:
    return Topology.from_dict({
        "mesh": {"name": "shop", **mesh},
        "services": {"catalog": {"command": ["x"]}, "pricing": {"command": ["x"]}, "front": {"command": ["x"]},
                     "etcd": {"command": ["x"], "health": "tcp"}, "config": {"command": ["x"]}},
        "edges": {"front->catalog": {"env": "CATALOG_URL"}, "catalog->pricing": {"env": "PRICING_URL"},
                  "front->config": {"env": "CONFIG_URL"}, "catalog->config": {"env": "CONFIG_URL"}},
        "journeys": {
            "browse": {"service": "front", "path": "/", "edges": ["front->catalog"], "budget_ms": 500},
            "price": {"service": "pricing", "path": "/p", "edges": [], "budget_ms": 500},
            "home": {"service": "front", "path": "/home", "edges": [], "budget_ms": 500},
        },
        "config": config,
    }, root=root)


ISSUE_EXAMPLE = {
    "catalog": {"kind": "file", "consumers": ["catalog"], "path": "config/catalog.json", "format": "json",
                "reload": "watch", "applied": {"within_ms": 1500}},
    "pricing_env": {"kind": "env", "consumers": ["pricing"], "var": "PRICING_PLAN"},
    "flags": {"kind": "etcd", "consumers": ["front", "catalog"], "endpoints": "http://{etcd}", "key": "/chirp/flags"},
    "chirp": {"kind": "http", "service": "config", "consumers": ["front", "catalog"]},
}


def test_the_four_kinds_of_the_reference_parse_with_their_defaults():
    t = topology(ISSUE_EXAMPLE)
    c = t.config_sources
    assert (c["catalog"].kind, c["catalog"].format, c["catalog"].within_ms, c["catalog"].observed) == ("file", "json", 1500, False)
    assert (c["pricing_env"].var, c["pricing_env"].reload) == ("PRICING_PLAN", "restart")
    assert (c["flags"].endpoints, c["flags"].key, c["flags"].format, c["flags"].reload) == \
        ("http://{etcd}", "/chirp/flags", "json", "watch")
    assert c["chirp"].service == "config"
    assert t.config_source_named("catalog") is c["catalog"]


def test_a_file_format_defaults_from_its_suffix_and_reload_styles_are_normalised():
    t = topology({"a": {"kind": "file", "consumers": ["catalog"], "path": "a.yml", "reload": "signal:SIGHUP"},
                  "b": {"kind": "file", "consumers": ["catalog"], "path": "b.conf", "reload": "http:POST /-/reload"}})
    assert (t.config_sources["a"].format, t.config_sources["a"].reload, t.config_sources["a"].signal) == \
        ("yaml", "signal:HUP", "HUP")
    assert (t.config_sources["b"].format, t.config_sources["b"].reload_request) == ("raw", ("POST", "/-/reload"))


def test_mesh_config_service_is_one_http_source_read_by_every_service_with_an_edge_to_it():
    t = topology({}, config_service="config")
    assert list(t.config_sources) == ["config"]
    assert t.config_sources["config"].consumers == ("catalog", "front")
    assert BadConfig(raw="x").targets(t) == ("catalog", "config", "front")


def test_an_http_source_without_consumers_is_read_by_its_callers():
    t = topology({"chirp": {"kind": "http", "service": "config"}})
    assert t.config_sources["chirp"].consumers == ("catalog", "front")


@pytest.mark.parametrize("config, message", [
    ({"x": {"kind": "vault", "consumers": ["catalog"]}}, r"config.x.kind: 'vault' is not one of file, env, etcd, http"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "../etc/passwd"}},
     r"config.x.path: '../etc/passwd' is outside the topology's folder '/srv/shop'; .* allow_outside = true"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "/etc/passwd"}}, r"config.x.path: '/etc/passwd' is outside"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a/../../b.json"}}, r"is outside the topology's folder"),
    ({"x": {"kind": "file", "consumers": ["catalogue"], "path": "a.json"}},
     r"config.x.consumers: unknown service 'catalogue'; services are: catalog, config, etcd, front, pricing"),
    ({"x": {"kind": "file", "path": "a.json"}}, r"config.x.consumers: name the services that read this config"),
    ({"x": {"kind": "file", "consumers": ["catalog"]}}, r"config.x: missing field 'path'"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "var": "A"}},
     r"config.x: unknown field 'var' for kind = 'file'; allowed: allow_outside, applied, consumers, container_path, "
     r"format, journeys, kind, path, reload"),
    ({"x": {"kind": "env", "consumers": ["catalog"], "var": "A", "journeys": ["brows"]}},
     r"config.x.journeys: unknown journey 'brows'; journeys are: browse, home, price"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "format": "xml"}},
     r"config.x.format: 'xml' is not one of json, yaml, toml, raw"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "reload": "signal:KILL"}},
     r"config.x.reload: 'signal:KILL' names no signal Cascade sends"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "reload": "poll"}},
     r"config.x.reload: 'poll' is not one of \"watch\", \"signal:HUP\", \"restart\", \"http:POST /reload\""),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "applied": {"within": 5}}},
     r"config.x.applied: unknown field 'within'; allowed: http, log, rejected, within_ms"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "applied": {"within_ms": "1s"}}},
     r"config.x.applied.within_ms: must be a whole number of milliseconds"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "applied": {"log": "(unclosed"}}},
     r"config.x.applied.log: '\(unclosed' is not a regular expression"),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "applied": {"http": "POST /v"}}},
     r"config.x.applied.http: 'POST /v' must be \"GET /path\""),
    ({"x": {"kind": "file", "consumers": ["catalog"], "path": "a.json", "applied": {"rejected": "no"}}},
     r"config.x.applied.rejected: needs log = \"regex\" too"),
    ({"x": {"kind": "env", "consumers": ["catalog", "front"], "var": "PLAN"}},
     r"config.x.consumers: an env source is a variable of one service"),
    ({"x": {"kind": "env", "consumers": ["catalog"], "var": "plan"}}, r"config.x.var: 'plan' is not an environment variable name"),
    ({"x": {"kind": "env", "consumers": ["catalog"], "var": "PLAN", "reload": "watch"}},
     r"config.x: unknown field 'reload' for kind = 'env'"),
    ({"x": {"kind": "etcd", "consumers": ["catalog"], "endpoints": "http://10.0.0.5:2379", "key": "/k"}},
     r"config.x.endpoints: 'http://10.0.0.5:2379' must be \"http://\{service\}\""),
    ({"x": {"kind": "etcd", "consumers": ["catalog"], "endpoints": "http://{etc}", "key": "/k"}},
     r"config.x.endpoints: unknown service 'etc'"),
    ({"x": {"kind": "http", "service": "nope"}}, r"config.x.service: unknown service 'nope'"),
    ({"x": "file"}, r"config.x: must be a table like"),
    ({"Bad Name": {"kind": "env", "consumers": ["catalog"], "var": "A"}}, r"config.Bad Name: config source names are"),
])
def test_bad_config_tables_are_one_line_errors_naming_the_field_and_the_fix(config, message):
    with pytest.raises(InvalidTopology, match=message) as info:
        topology(config)
    assert "\n" not in str(info.value)


def test_allow_outside_lets_a_path_leave_the_folder_on_purpose():
    t = topology({"x": {"kind": "file", "consumers": ["catalog"], "path": "/etc/app/app.json", "allow_outside": True}})
    assert t.config_sources["x"].allow_outside


def test_a_push_names_its_source_unless_there_is_only_one():
    t = topology(ISSUE_EXAMPLE)
    with pytest.raises(InvalidFault, match=r"this topology has 4 config sources \(catalog, chirp, flags, pricing_env\); "
                                           r"say which with source=\"NAME\""):
        BadConfig(raw="x").validate(t)
    with pytest.raises(InvalidFault, match=r"unknown config source 'catlog'; config sources are: catalog, chirp"):
        BadConfig(raw="x", source="catlog").validate(t)
    only = topology({"catalog": ISSUE_EXAMPLE["catalog"]})
    BadConfig.out_of_range("pricing_timeout_ms", 0).validate(only)  # the only source: no name needed


def test_a_patch_for_a_raw_source_and_a_patch_of_another_variable_are_refused_with_the_fix():
    t = topology({"site": {"kind": "file", "consumers": ["front"], "path": "site.conf", "format": "raw"},
                  "plan": {"kind": "env", "consumers": ["pricing"], "var": "PRICING_PLAN"}})
    with pytest.raises(InvalidFault, match=r"config.site is format = \"raw\", so a patch has no document .* push raw= text"):
        BadConfig.out_of_range("a", 0, source="site").validate(t)
    with pytest.raises(InvalidFault, match=r"config.plan is the variable PRICING_PLAN; patch only"):
        BadConfig(patch={"PLAN": "free"}, source="plan").validate(t)
    BadConfig(patch={"PRICING_PLAN": "free"}, source="plan").validate(t)
    BadConfig(raw="anything at all", source="site").validate(t)


def test_the_blast_radius_of_a_push_is_every_journey_crossing_a_consumer():
    from harness.judge.blast import blast_radius

    t = topology(ISSUE_EXAMPLE)
    push = BadConfig.out_of_range("pricing_timeout_ms", 0, source="catalog")
    assert push.targets(t) == ("catalog",)
    radius = blast_radius(t, services=push.targets(t))
    assert radius.inside == {"browse"} and radius.outside == {"price", "home"}
    assert BadConfig(patch={"PRICING_PLAN": "free"}, source="pricing_env").targets(t) == ("pricing",)


def test_a_source_name_travels_with_the_fault_through_params_and_from_spec():
    push = BadConfig.out_of_range("a.b", 0, source="catalog")
    assert push.params()["source"] == "catalog" and "to catalog" in push.describe()
    assert BadConfig.from_spec("out_of_range", path="a.b", value=0, source="catalog") == push
    assert BadConfig.from_spec("patch", **push.params()) == push


@pytest.mark.parametrize("fmt, data, doc", [
    ("json", b'{\n  "a": 1,\n  "b": {\n    "c": 2\n  }\n}\n', {"a": 1, "b": {"c": 2}}),
    ("json", b'{"a": 1, "b": {"c": 2}}', {"a": 1, "b": {"c": 2}}),
    ("yaml", b"a: 1\nb:\n- 1\n- 2\n", {"a": 1, "b": [1, 2]}),
    ("toml", b"a = 1\nb = [\n    1,\n    2,\n]\n", {"a": 1, "b": [1, 2]}),
])
def test_each_format_parses_and_writes_back_in_its_own_layout(fmt, data, doc):
    assert parse(fmt, data) == (doc, "")
    assert dump(fmt, doc, like=data) == data


def test_an_unparseable_document_says_why_and_raw_has_none():
    assert parse("json", b"{not json")[0] is None and "not valid JSON" in parse("json", b"{not json")[1]
    assert parse("yaml", b"a: [1,")[0] is None
    assert parse("raw", b"anything") == (None, "a raw source has no document")
    with pytest.raises(InvalidFault, match="push raw= text"):
        dump("raw", {"a": 1})
    with pytest.raises(InvalidFault, match="push it as raw= text instead"):
        dump("toml", {"a": None})


def test_a_consumer_shows_a_version_by_the_sha256_or_its_first_12_digits_or_the_etcd_revision():
    sha = "ab" * 32
    e = Evidence(sha, revision=1234, previous_sha256="cd" * 32)
    assert e.in_answer(f'{{"sha256": "{sha}"}}') and e.in_answer(f"config {sha[:12]} loaded")
    assert e.in_answer('{"revision": 1234}') and not e.in_answer('{"revision": 12345}')
    assert e.in_answer('{"config": {"mod_version": "1234"}}') and e.in_answer("1234\n")
    assert not e.in_answer('{"sha256": "ab1234cd", "revision": 7}')  # a number inside a hash is not a revision
    assert not e.in_answer('{"price": 1234}')
    assert not e.in_answer(f'{{"sha256": "{"cd" * 32}"}}') and e.previous_in_answer(f'{"cd" * 32}')


def test_exploration_draws_bad_pushes_for_every_declared_source_each_naming_its_own():
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from harness.faults.base import DrawContext

    t = topology(ISSUE_EXAMPLE)
    ctx = DrawContext(t, 1000, config_documents={"catalog": {"pricing_timeout_ms": 300, "tiers": ["a"]},
                                                 "pricing_env": {"PRICING_PLAN": "pro"},
                                                 "flags": "not a document at all"})
    strategy = BadConfig.draw(ctx)
    seen: set[str] = set()

    @settings(max_examples=300, database=None, suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(push: BadConfig) -> None:
        push.validate(t)  # every drawn push is one its source can take
        seen.add(push.source)
        if push.source == "flags":
            assert push.raw == "not a document"[: len("not a document at all") // 2] or push.raw
    collect()
    assert seen == {"catalog", "pricing_env", "flags"}
    assert BadConfig.draw(DrawContext(t, 1000, config_documents={})) is None
    assert st  # the strategy module is what exploration samples from


def test_a_source_declaring_its_journeys_narrows_the_radius_to_them_and_says_config_name():
    from harness.judge.blast import blast_radius
    from harness.judge.contracts import contract_for

    t = topology({**ISSUE_EXAMPLE, "catalog": {**ISSUE_EXAMPLE["catalog"], "journeys": ["price"]}})
    push = BadConfig.out_of_range("pricing_timeout_ms", 0, source="catalog")
    assert push.targets(t) == ("config:catalog",)
    radius = blast_radius(t, services=push.targets(t))
    assert radius.inside == {"price"} and radius.outside == {"browse", "home"}
    assert radius.path("price") == ("config:catalog",) and "config:catalog" in radius.targets
    touched = contract_for("price", t, radius=radius)
    assert touched.touched_by == ("config:catalog",) and "failed_fast" in touched.verdicts
    assert contract_for("browse", t, radius=radius).touched_by == ()
