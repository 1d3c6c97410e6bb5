"""Topology parsing and validation: every bad declaration names its field."""

from pathlib import Path

import pytest

from harness.errors import InvalidTopology
from harness.topology import Topology, load_topology, parse_edge_name

FIXTURE = Path(__file__).parents[1] / "fixtures" / "mini" / "topology.toml"


def base() -> dict:
    return {
        "mesh": {"name": "t", "knobs": ["timeouts"]},
        "services": {
            "front": {"command": ["{python}", "-m", "front"]},
            "back": {"command": ["{python}", "-m", "back"]},
            "db": {"command": ["redis-server"], "health": "tcp"},
        },
        "edges": {
            "front->back": {"env": "BACK_URL"},
            "back -> db": {"env": "DB_URL", "url": "redis://{host}:{port}/0"},
        },
        "journeys": {
            "ping": {"service": "front", "path": "/ping", "edges": ["front->back", "back->db"], "budget_ms": 500},
        },
    }


def test_a_valid_declaration_builds_typed_values():
    t = Topology.from_dict(base())
    assert sorted(t.edges) == ["back->db", "front->back"]
    assert t.edge("back ->db").address("127.0.0.1", 41000) == "redis://127.0.0.1:41000/0"
    assert t.journey("ping").edges == ("front->back", "back->db")
    assert t.services["db"].http is False
    assert [e.name for e in t.edges_of("back")] == ["front->back", "back->db"]


def test_the_fixture_mesh_file_loads():
    t = load_topology(FIXTURE)
    assert t.root == FIXTURE.parent
    assert t.journey("ping").budget_ms == 2500


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d["edges"].update({"front->nope": {"env": "X"}}), "unknown service 'nope'; services are: back, db, front"),
        (lambda d: d["edges"].update({"db->front": {"env": "F"}}), "dependency cycle"),
        (lambda d: d["edges"].update({"front->front": {"env": "F"}}), "cannot depend on itself"),
        (lambda d: d["edges"].update({"frontback": {"env": "F"}}), "not of the form 'caller->callee'"),
        (lambda d: d["edges"]["front->back"].update({"env": "lower"}), "not an environment variable name"),
        (lambda d: d["edges"].update({"front->db": {"env": "BACK_URL"}}), "already used by edge 'front->back'"),
        (lambda d: d["services"]["front"].update({"health": "health"}), "services.front.health: must be an HTTP path"),
        (lambda d: d["services"]["front"].update({"colour": "red"}), "services.front: unknown field 'colour'"),
        (lambda d: d["services"].update({"Bad Name": {}}), "service names are lowercase"),
        (lambda d: d["journeys"]["ping"].update({"edges": ["front->db"]}), "journeys.ping.edges: unknown edge 'front->db'"),
        (lambda d: d["journeys"]["ping"].update({"budget_ms": 0}), "journeys.ping.budget_ms"),
        (lambda d: d["journeys"]["ping"].update({"budget_ms": True}), "journeys.ping.budget_ms"),
        (lambda d: d["journeys"]["ping"].update({"service": "db"}), "needs an HTTP service"),
        (lambda d: d["journeys"]["ping"].update({"path": "ping"}), "must start with '/'"),
        (lambda d: d["journeys"]["ping"].update({"contracts": {"front->back": ["hung"]}}), "'hung' is never an acceptable verdict"),
        (lambda d: d["journeys"]["ping"].update({"contracts": {"front->back": ["meh"]}}), "unknown verdict 'meh'"),
        (lambda d: d["journeys"]["ping"].update({"contracts": {"x->y": ["full"]}}), "not an edge or a service"),
        (lambda d: d["mesh"].update({"config_service": "cfg"}), "mesh.config_service: unknown service 'cfg'"),
        (lambda d: d["mesh"].update({"explore_config": {"breaker.reset_timeout_ms": 200}}),
         "mesh.explore_config: needs mesh.config_service"),
        (lambda d: d["mesh"].update({"config_service": "back", "explore_config": {"breaker": {"reset_timeout_ms": 200}}}),
         'write each setting as one quoted dotted key, e.g. "breaker.reset_timeout_ms" = 200'),
        (lambda d: d["mesh"].update({"config_service": "back", "explore_config": {"breaker..x": 1}}),
         "mesh.explore_config: 'breaker..x' is not a dotted path"),
        (lambda d: d["mesh"].update({"config_service": "back", "explore_config": "fast"}),
         "mesh.explore_config: must be a table"),
        (lambda d: d.pop("services"), "missing [services] table"),
    ],
)
def test_bad_declarations_name_the_field(mutate, message):
    d = base()
    mutate(d)
    with pytest.raises(InvalidTopology, match=None) as info:
        Topology.from_dict(d)
    assert message in str(info.value)


def test_unknown_edge_lookup_lists_the_edges():
    with pytest.raises(InvalidTopology, match=r"unknown edge 'front->db'; edges are: back->db, front->back"):
        Topology.from_dict(base()).edge("front->db")


def test_bad_toml_is_reported_with_the_path(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text("[services\n")
    with pytest.raises(InvalidTopology, match="not valid TOML"):
        load_topology(p)
    with pytest.raises(InvalidTopology, match="cannot read topology"):
        load_topology(tmp_path / "missing.toml")


def test_digest_is_stable_and_changes_with_the_declaration():
    a, b = Topology.from_dict(base()), Topology.from_dict(base())
    assert a.digest() == b.digest()
    d = base()
    d["journeys"]["ping"]["budget_ms"] = 600
    assert Topology.from_dict(d).digest() != a.digest()


def test_explore_config_is_kept_and_counts_in_the_digest():
    d = base()
    d["mesh"].update({"config_service": "back", "explore_config": {"breaker.reset_timeout_ms": 200}})
    t = Topology.from_dict(d)
    assert t.explore_config == {"breaker.reset_timeout_ms": 200}
    d["mesh"]["explore_config"] = {"breaker.reset_timeout_ms": 300}
    assert Topology.from_dict(d).digest() != t.digest()


def test_parse_edge_name_tolerates_spaces():
    assert parse_edge_name(" timeline  ->  media ") == ("timeline", "media")


def test_knobs_env_is_a_variable_name_and_needs_knobs():
    d = base()
    d["mesh"]["knobs_env"] = "SHOP_NAIVE"
    assert Topology.from_dict(d).knobs_env == "SHOP_NAIVE"
    d["mesh"]["knobs_env"] = "shop-naive"
    with pytest.raises(InvalidTopology, match=r"mesh.knobs_env: 'shop-naive' is not an environment variable name"):
        Topology.from_dict(d)
    d["mesh"] = {"name": "t", "knobs_env": "SHOP_NAIVE"}
    with pytest.raises(InvalidTopology, match=r"mesh.knobs_env = 'SHOP_NAIVE' needs mesh.knobs"):
        Topology.from_dict(d)
