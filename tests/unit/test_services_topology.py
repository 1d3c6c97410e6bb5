"""Unit tests that the bundled topology, fixtures and images agree with the services (pure)."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from harness.topology import load_topology
from services.common.images import MEDIA_IDS, image, placeholder
from services.common.seed import DEMO_SESSION, LINKS, POSTS, USERS
from services.common.entitlements import API_KEYS

TOPOLOGY = load_topology(Path(__file__).parents[2] / "services" / "topology.toml")


def test_the_topology_validates_and_names_the_config_service():
    assert TOPOLOGY.name == "chirp" and TOPOLOGY.config_service == "config"
    assert set(TOPOLOGY.journeys) == {"login", "home", "link", "image", "deck", "thirdparty_free",
                                      "thirdparty_paid", "post"}


def test_every_service_but_redis_polls_config_and_the_graph_has_the_designed_edges():
    callers = {e.caller for e in TOPOLOGY.edges.values() if e.callee == "config"}
    assert callers == set(TOPOLOGY.services) - {"redis", "config", "etcd"}
    assert "gateway->links" not in TOPOLOGY.edges  # acyclic: the gateway never calls links
    assert {e.env for e in TOPOLOGY.edges.values() if e.callee == "redis"} == {"REDIS_URL"}
    # the gateway's entitlement rules live in etcd, a second config source beside the config service
    assert {e.name for e in TOPOLOGY.edges.values() if "etcd" in (e.caller, e.callee)} == {"gateway->etcd"}
    assert sorted(TOPOLOGY.config_sources) == ["config", "entitlements"]
    assert TOPOLOGY.config_sources["entitlements"].consumers == ("gateway",)


def test_journeys_use_the_seeded_fixtures():
    keys = {j.headers.get("x-api-key") for j in TOPOLOGY.journeys.values()} - {None}
    assert keys <= set(API_KEYS)
    assert {j.headers.get("x-session") for j in TOPOLOGY.journeys.values()} - {None} == {DEMO_SESSION}
    link = TOPOLOGY.journey("link")
    assert link.expect_body == LINKS[link.path.rsplit("/", 1)[1]]
    assert TOPOLOGY.journey("login").json == {"user": "alice", "password": USERS["alice"][0]}


def test_no_journey_expects_a_leak():
    for journey in TOPOLOGY.journeys.values():
        assert not any(p.lower() in journey.expect_body.lower() for p in TOPOLOGY.leak_patterns)


def test_images_are_valid_pngs_of_about_200_kb_carrying_their_id():
    for media_id in MEDIA_IDS:
        png = image(media_id)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and 190_000 < len(png) < 210_000
        assert f"chirp-media:{media_id}".encode() in png
    assert image(1) != image(2)
    small = placeholder()
    assert small.startswith(b"\x89PNG") and len(small) < 1_000 and b"chirp-media" not in small


def test_png_chunks_have_correct_crcs():
    png, pos = image(3), 8
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos:pos + 4])
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", png[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + data) == crc, kind
        pos += 12 + length
    assert pos == len(png)


def test_seeded_posts_are_twenty_with_some_images():
    assert len(POSTS) == 20 and len({p["id"] for p in POSTS}) == 20
    assert 5 <= sum(p["media_id"] is not None for p in POSTS) <= 8
