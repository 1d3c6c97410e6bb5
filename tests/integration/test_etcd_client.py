"""EtcdClient against a real etcd 3.4 (Debian's etcd-server) on 127.0.0.1: every call, binary values, compare-and-put."""

from __future__ import annotations

import os

import pytest

from harness.clients.etcd import EtcdClient, EtcdValue
from harness.errors import ConfigPushError
from harness.paths import state_dir
from harness.runtime.ports import lease_ports

pytestmark = pytest.mark.integration


def test_put_get_delete_round_trip_with_revisions(etcd_server: str) -> None:
    c = EtcdClient(etcd_server)
    assert c.health() == ""
    start = c.revision()
    assert c.get("/cascade/a") is None

    first = c.put("/cascade/a", b"one")
    assert first == start + 1 == c.revision()
    assert c.get("/cascade/a") == EtcdValue(b"one", mod_revision=first, version=1, create_revision=first)

    second = c.put("/cascade/a", b"two")
    assert second == first + 1
    assert c.get("/cascade/a") == EtcdValue(b"two", mod_revision=second, version=2, create_revision=first)

    gone = c.delete("/cascade/a")
    assert gone == second + 1 and c.get("/cascade/a") is None
    # deleting an absent key writes nothing: the revision stays where it was
    assert c.delete("/cascade/a") == gone == c.revision()


def test_values_come_back_byte_for_byte(etcd_server: str) -> None:
    c = EtcdClient(etcd_server)
    values = {
        "/bin/every-byte": bytes(range(256)),
        "/bin/empty": b"",  # the gateway leaves an empty value out of the answer
        "/bin/nul": b"\x00",
        "/bin/not-utf8": b"\xff\xfe\xc3\x28 \xe2\x82",
        "/bin/random": os.urandom(64 * 1024),
        "/bin/ünïcödé-key": "ünïcödé ✓".encode(),
    }
    for key, value in values.items():
        c.put(key, value)
    for key, value in values.items():
        got = c.get(key)
        assert got is not None and got.value == value, key


def test_put_if_writes_only_over_the_revision_it_was_given(etcd_server: str) -> None:
    c = EtcdClient(etcd_server)
    # 0: only if absent
    assert c.put_if("/cfg", b"v1", mod_revision=0) is True
    v1 = c.get("/cfg")
    assert v1 is not None and v1.value == b"v1"
    assert c.put_if("/cfg", b"clobber", mod_revision=0) is False

    # a snapshot taken at v1, someone else writes v2, the restore of the snapshot is refused
    before = c.revision()
    v2_rev = c.put("/cfg", b"v2 (someone else's)")
    assert c.put_if("/cfg", b"v1 restored", mod_revision=v1.mod_revision) is False
    assert c.get("/cfg") == EtcdValue(b"v2 (someone else's)", v2_rev, 2, v1.create_revision)
    assert c.revision() == before + 1  # the refused txn wrote nothing

    # with the current mod_revision it goes through
    assert c.put_if("/cfg", b"v3", mod_revision=v2_rev) is True
    v3 = c.get("/cfg")
    assert v3 is not None and v3.value == b"v3" and v3.mod_revision == v2_rev + 1 and v3.version == 3

    # and a deleted key is absent again: 0 matches it
    c.delete("/cfg")
    assert c.put_if("/cfg", b"v1 again", mod_revision=v3.mod_revision) is False
    assert c.put_if("/cfg", b"v1 again", mod_revision=0) is True


def test_nothing_listening_raises_naming_the_endpoint() -> None:
    lease = lease_ports(1, state_dir() / "ports")  # held, so nothing else binds it meanwhile
    try:
        endpoint = f"http://127.0.0.1:{lease.ports[0]}"
        c = EtcdClient(endpoint, timeout_s=1.0)
        with pytest.raises(ConfigPushError, match=rf"did not answer POST /v3/kv/range \(connection refused\); "
                                                  rf"is etcd running on {endpoint}\?"):
            c.get("/cascade/a")
        assert c.health().endswith(f"(connection refused); is etcd running on {endpoint}?")
    finally:
        lease.release()


def test_etcds_own_refusal_is_raised_with_its_message(etcd_server: str) -> None:
    c = EtcdClient(etcd_server)
    # etcd's own request limit is 1.5 MiB ...
    with pytest.raises(ConfigPushError, match="could not write key '/big': etcd at .* answered POST /v3/kv/put "
                                              "with 400: etcdserver: request is too large"):
        c.put("/big", b"x" * (1024 * 1024 + 600 * 1024))
    # ... and the gateway's gRPC limit, 2 MiB, answers 429 before etcd sees the request
    with pytest.raises(ConfigPushError, match="with 429: grpc: received message larger than max .*over the "
                                              "gateway's 2 MiB limit"):
        c.put("/big", b"x" * (2 * 1024 * 1024))
    assert c.get("/big") is None
