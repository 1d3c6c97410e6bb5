"""`cascade init`: a topology draft from a compose file: services, ports, health, edges from variables (no Docker)."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest
import yaml

from harness.cli import main
from harness.errors import UsageError
from harness.init import draft_from_compose, load_compose
from harness.topology import Topology, load_topology

ROOT = Path(__file__).parents[2]


def draft(text: str, **kw):
    return draft_from_compose(yaml.safe_load(textwrap.dedent(text)), **kw)


def loads(d) -> Topology:
    return Topology.from_dict(tomllib.loads(d.toml), root="/srv/app")


def test_the_bundled_compose_file_gives_the_hand_written_topologys_edges():
    d = draft_from_compose(load_compose(ROOT / "docker" / "compose.yaml"), compose_file="compose.yaml")
    written = load_topology(ROOT / "services" / "topology.toml")
    drafted = loads(d)
    assert {n: (e.env, e.url, e.protocol) for n, e in drafted.edges.items()} == \
        {n: (e.env, e.url, e.protocol) for n, e in written.edges.items()}
    assert set(drafted.services) == set(written.services)
    assert drafted.services["gateway"].health == "/health" and drafted.services["gateway"].container_port == 8000
    assert drafted.services["redis"].health == "tcp" and drafted.services["redis"].container_port == 6379
    assert drafted.journeys == {} and any("journeys" in line for line in d.to_declare)


def test_the_example_systems_compose_file_gives_its_hand_written_topologys_edges():
    d = draft_from_compose(load_compose(ROOT / "examples" / "shop" / "compose.yaml"), compose_file="compose.yaml")
    written = load_topology(ROOT / "examples" / "shop" / "topology.toml")
    drafted = loads(d)
    assert {n: (e.env, e.url, e.protocol) for n, e in drafted.edges.items()} == \
        {n: (e.env, e.url, e.protocol) for n, e in written.edges.items()}
    assert {n: s.container_port for n, s in drafted.services.items()} == \
        {n: s.container_port for n, s in written.services.items()}
    # db's port is only in orders' DATABASE_URL; said, not silently assumed
    assert "db: container_port = 5432 taken from orders's DATABASE_URL" in "\n".join(d.not_inferred)


def test_a_bare_host_port_is_http_only_when_its_callee_has_an_http_healthcheck():
    compose = """
        services:
          web: {environment: {API_ADDR: "api:9000", CACHE_ADDR: "cache:7000"}}
          api: {healthcheck: {test: ["CMD", "curl", "-f", "http://localhost:9000/ready"]}}
          cache: {image: example/cache}
    """
    d = draft(compose)
    assert d.edges["web->api"] == {"env": "API_ADDR", "url": "{host}:{port}", "protocol": "http"}
    assert "protocol" not in d.edges["web->cache"]
    assert any(line.startswith("web->cache: CACHE_ADDR is a bare host:port, drafted as a TCP edge")
               for line in d.not_inferred)
    assert loads(d).edges["web->api"].is_http and not loads(d).edges["web->cache"].is_http


def test_urls_and_host_port_values_become_edges_keeping_the_rest_of_the_value():
    d = draft("""
        services:
          api:
            image: shop/api
            environment:
              PRICING_URL: http://pricing:8000
              DATABASE_URL: postgresql://shop@db/shop
              CACHE: redis://cache:6379/0
              DB_ADDR: db:5432
              SELF_URL: http://api:8000
              DOCS_URL: https://example.test/docs
          pricing: {image: shop/pricing, ports: ["8000"]}
          db: {image: postgres:16}
          cache: {image: redis:7}
    """)
    assert d.edges == {
        "api->cache": {"env": "CACHE", "url": "redis://{host}:{port}/0"},
        "api->db": {"env": "DATABASE_URL", "url": "postgresql://shop@{host}:{port}/shop"},
        "api->pricing": {"env": "PRICING_URL", "url": "http://{host}:{port}"},
    }
    assert any("DB_ADDR also names db" in line for line in d.not_inferred)  # one variable per edge
    t = loads(d)
    assert t.edge("api->db").address("127.0.0.1", 4242) == "postgresql://shop@127.0.0.1:4242/shop"
    assert t.edge("api->db").protocol == "tcp" and t.edge("api->pricing").protocol == "http"
    assert (t.services["db"].container_port, t.services["db"].health) == (5432, "tcp")


def test_anchors_merge_keys_x_extensions_env_files_and_both_environment_forms():
    d = draft("""
        x-common: &common
          image: shop/python
          healthcheck:
            test: ["CMD", "curl", "-f", "http://localhost:9000/ready"]
          environment: &env
            LOG: info
        services:
          front:
            <<: *common
            env_file: [front.env, missing.env]
            environment:
              - BACK_URL=http://back:9000
              - EMPTY
          back:
            <<: *common
            environment:
              <<: *env
              STORE: "store:7000"
          store:
            image: shop/store
            expose: ["7000/tcp"]
            healthcheck: {test: ["CMD-SHELL", "store-cli ping"]}
    """, env_files={"front.env": {"AUDIT_URL": "http://audit.example.test"}})
    assert d.edges == {"back->store": {"env": "STORE", "url": "{host}:{port}"},
                       "front->back": {"env": "BACK_URL", "url": "http://{host}:{port}"}}
    t = loads(d)
    assert (t.services["front"].health, t.services["front"].container_port) == ("/ready", 9000)
    assert (t.services["store"].health, t.services["store"].container_port) == ("tcp", 7000)
    assert any("env_file 'missing.env' could not be read" in line for line in d.not_inferred)


@pytest.mark.parametrize("ports, expected", [
    (["8080:80"], 80), (["127.0.0.1:8080:80/tcp"], 80), (["3000"], 3000), ([8000], 8000),
    (["9000-9001:9000-9001"], 9000), ([{"target": 5000, "published": 15000}], 5000),
])
def test_the_container_side_of_every_port_syntax(ports, expected):
    d = draft_from_compose({"services": {"web": {"image": "x", "ports": ports}}})
    assert d.services["web"]["container_port"] == expected


def test_what_cannot_be_inferred_is_said_and_the_draft_still_loads():
    d = draft("""
        services:
          Web.App:
            image: x
            environment: {DB_HOST: db, A_URL: "http://a:80"}
          db: {image: postgres}
          a:
            image: x
            environment: {WEB_URL: "http://Web.App:80"}
    """)
    t = loads(d)
    assert t.services["web-app"].compose_service == "Web.App"
    notes = "\n".join(d.not_inferred)
    assert "DB_HOST=db names service 'db' without a port" in notes
    assert "would close a cycle" in notes  # a->Web.App after Web.App->a
    assert "no HTTP healthcheck" in notes and t.services["a"].health == "/health"


def test_cli_writes_the_draft_prints_what_is_left_and_never_overwrites(tmp_path, capsys):
    compose = tmp_path / "deploy" / "compose.yaml"
    compose.parent.mkdir()
    compose.write_text("services:\n  front:\n    image: x\n    env_file: front.env\n  back:\n    image: x\n    ports: ['8000']\n")
    (compose.parent / "front.env").write_text("# the back end\nexport BACK_URL='http://back:8000'\n")
    out = tmp_path / "topology.toml"
    assert main(["init", "--compose", str(compose), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "front->back" in printed and "left to declare:" in printed and "journeys" in printed
    t = load_topology(out)
    assert t.edges["front->back"].env == "BACK_URL" and t.compose_file == compose.resolve()
    assert main(["init", "--compose", str(compose), "--out", str(out)]) == 2
    assert "exists; pass --force" in capsys.readouterr().err


def test_a_file_that_is_not_a_compose_file_is_one_line_naming_it(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("services: [1, 2\n")
    with pytest.raises(UsageError, match=r"c.yaml: not valid YAML"):
        load_compose(bad)
    bad.write_text("version: '3'\n")
    with pytest.raises(UsageError, match=r"no services: a compose file has a top-level `services:` mapping"):
        load_compose(bad)
