"""Unit tests of the etcd v3 gateway client: request bodies, answers as etcd 3.4 spells them, errors (no server)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from harness.clients import etcd
from harness.clients.etcd import (
    EtcdClient,
    EtcdValue,
    delete_request,
    parse_revision,
    parse_succeeded,
    parse_value,
    put_if_request,
    put_request,
    range_request,
)
from harness.clients.probe import Response
from harness.errors import ConfigPushError, UsageError

ENDPOINT = "http://127.0.0.1:2379"
# Answers copied from etcd 3.4.23's gateway: int64s are strings, fields at their default are left out.
HEADER = {"cluster_id": "324952591200643719", "member_id": "3319814642761637952", "revision": "5", "raft_term": "2"}
FOUND = {"header": HEADER, "count": "1",
         "kvs": [{"key": "Zm9v", "create_revision": "2", "mod_revision": "5", "version": "3", "value": "YmFy"}]}
ABSENT = {"header": HEADER}
EMPTY_VALUE = {"header": HEADER, "count": "1",
               "kvs": [{"key": "Zm9v", "create_revision": "2", "mod_revision": "3", "version": "2"}]}
TXN_WRITTEN = {"header": {**HEADER, "revision": "6"}, "succeeded": True,
               "responses": [{"response_put": {"header": {"revision": "6"}}}]}
TXN_REFUSED = {"header": HEADER}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# -- request bodies -------------------------------------------------------------------------------


def test_keys_and_values_are_base64_and_a_key_is_utf8() -> None:
    assert range_request("foo") == {"key": "Zm9v"}
    assert range_request("foo", count_only=True) == {"key": "Zm9v", "count_only": True}
    assert put_request("foo", b"bar") == {"key": "Zm9v", "value": "YmFy"}
    assert delete_request("foo") == {"key": "Zm9v"}
    assert put_request("/cfg/ü", b"\x00\xff") == {"key": b64("/cfg/ü".encode()), "value": "AP8="}
    assert put_request("k", b"") == {"key": "aw==", "value": ""}


def test_put_if_compares_the_mod_revision_and_puts_on_success_only() -> None:
    assert put_if_request("foo", b"bar", mod_revision=7) == {
        "compare": [{"key": "Zm9v", "target": "MOD", "result": "EQUAL", "mod_revision": "7"}],
        "success": [{"request_put": {"key": "Zm9v", "value": "YmFy"}}],
    }
    # 0 is "the key is absent" (an absent key's mod_revision is 0), and is sent, not left out
    assert put_if_request("foo", b"", mod_revision=0)["compare"][0]["mod_revision"] == "0"


@pytest.mark.parametrize("bad", [-1, 1.0, "3", True, None])
def test_put_if_refuses_a_mod_revision_that_is_not_a_natural_number(bad: Any) -> None:
    with pytest.raises(UsageError, match="mod_revision must be an int >= 0"):
        put_if_request("foo", b"x", mod_revision=bad)


def test_an_empty_or_non_str_key_and_a_non_bytes_value_are_refused_before_sending() -> None:
    with pytest.raises(UsageError, match="non-empty str"):
        range_request("")
    with pytest.raises(UsageError, match="non-empty str"):
        delete_request(b"foo")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="must be bytes, got str"):
        put_request("foo", "bar")  # type: ignore[arg-type]


# -- answers --------------------------------------------------------------------------------------


def test_a_found_key_reads_its_value_and_int64_string_revisions() -> None:
    assert parse_value(FOUND) == EtcdValue(value=b"bar", mod_revision=5, version=3, create_revision=2)


def test_an_absent_key_has_no_kvs_and_reads_as_none() -> None:
    assert parse_value(ABSENT) is None
    assert parse_value({"header": HEADER, "kvs": []}) is None


def test_an_empty_value_is_left_out_of_the_answer_and_reads_as_empty_bytes() -> None:
    assert parse_value(EMPTY_VALUE) == EtcdValue(value=b"", mod_revision=3, version=2, create_revision=2)


def test_int64_fields_are_read_as_strings_or_numbers_beyond_double_precision() -> None:
    big = 2**53 + 1  # a double cannot hold it: the reason proto3 JSON sends int64 as strings
    kv = {"key": "Zm9v", "create_revision": str(big), "mod_revision": big, "version": "1", "value": ""}
    assert parse_value({"header": HEADER, "kvs": [kv]}) == EtcdValue(b"", big, 1, big)
    assert parse_revision({"header": {"revision": str(big)}}) == big


def test_the_revision_is_the_headers() -> None:
    assert parse_revision(FOUND) == 5
    assert parse_revision(TXN_WRITTEN) == 6
    assert parse_revision({"header": {**HEADER, "revision": "9"}, "deleted": "1"}) == 9


def test_a_txn_succeeded_or_was_refused_by_leaving_succeeded_out() -> None:
    assert parse_succeeded(TXN_WRITTEN) is True
    assert parse_succeeded(TXN_REFUSED) is False


@pytest.mark.parametrize("answer, why", [
    ([], "the answer is list"),
    ({}, "its header is NoneType"),
    ({"header": {"cluster_id": "1"}}, "no revision"),
    ({"header": {"revision": "seven"}}, "'seven', not an int64"),
    ({"header": {"revision": True}}, "True, not an int64"),
])
def test_a_malformed_header_is_named(answer: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_revision(answer)


@pytest.mark.parametrize("answer, why", [
    ({"header": HEADER, "kvs": {"key": "Zm9v"}}, "kvs is dict"),
    ({"header": HEADER, "kvs": ["Zm9v"]}, "kvs\\[0\\] is str"),
    ({"header": HEADER, "kvs": [{"key": "Zm9v", "value": "!!"}]}, "not base64"),
    ({"header": HEADER, "kvs": [{"key": "Zm9v", "value": 7}]}, "not base64 text"),
    ({"header": HEADER, "kvs": [{"key": "Zm9v", "value": "", "version": 1.5}]}, "version is 1.5"),
])
def test_a_malformed_range_answer_is_named(answer: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_value(answer)


def test_a_malformed_txn_answer_is_named() -> None:
    with pytest.raises(ValueError, match="not a bool"):
        parse_succeeded({"header": HEADER, "succeeded": "true"})
    with pytest.raises(ValueError, match="its header is NoneType"):
        parse_succeeded({"succeeded": True})


def test_a_range_answer_without_a_header_is_not_etcds() -> None:
    with pytest.raises(ValueError, match="its header is NoneType"):
        parse_value({"kvs": FOUND["kvs"]})


# -- the client, with a scripted request function -------------------------------------------------


class FakeRequest:
    """Stands in for probe.http_request: replays scripted Responses and records every call."""

    def __init__(self, *replies: Response) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, int, str, str, Any, float]] = []

    def __call__(self, host: str, port: int, method: str = "GET", path: str = "/", *,
                 json: Any = None, timeout_s: float = 5.0, **_: Any) -> Response:
        self.calls.append((host, port, method, path, json, timeout_s))
        return self.replies.pop(0)


def ok(answer: Any) -> Response:
    return Response(200, 1.0, json.dumps(answer).encode())


def client(*replies: Response) -> tuple[EtcdClient, FakeRequest]:
    fake = FakeRequest(*replies)
    return EtcdClient(ENDPOINT, timeout_s=1.5, request=fake), fake


def test_each_method_posts_its_body_to_its_gateway_path_with_the_timeout() -> None:
    c, fake = client(ok(FOUND), ok(ABSENT), ok({"header": {**HEADER, "revision": "6"}}),
                     ok({"header": {**HEADER, "revision": "7"}, "deleted": "1"}), ok(ABSENT),
                     ok(TXN_WRITTEN), ok(TXN_REFUSED))
    assert c.get("foo") == EtcdValue(b"bar", 5, 3, 2)
    assert c.get("gone") is None
    assert c.put("foo", b"baz") == 6
    assert c.delete("foo") == 7
    assert c.revision() == 5
    assert c.put_if("foo", b"x", mod_revision=5) is True
    assert c.put_if("foo", b"x", mod_revision=5) is False
    assert [(m, p, body) for _h, _p, m, p, body, _t in fake.calls] == [
        ("POST", "/v3/kv/range", {"key": "Zm9v"}),
        ("POST", "/v3/kv/range", {"key": "Z29uZQ=="}),
        ("POST", "/v3/kv/put", {"key": "Zm9v", "value": "YmF6"}),
        ("POST", "/v3/kv/deleterange", {"key": "Zm9v"}),
        ("POST", "/v3/kv/range", {"key": "AA==", "count_only": True}),
        ("POST", "/v3/kv/txn", put_if_request("foo", b"x", mod_revision=5)),
        ("POST", "/v3/kv/txn", put_if_request("foo", b"x", mod_revision=5)),
    ]
    assert {(h, p, t) for h, p, _m, _p, _b, t in fake.calls} == {("127.0.0.1", 2379, 1.5)}


def test_no_answer_names_the_endpoint_and_asks_if_etcd_runs() -> None:
    c, _ = client(Response(None, 3.0, error="connection refused"))
    with pytest.raises(ConfigPushError) as err:
        c.put("foo", b"bar")
    assert str(err.value) == ("could not write key 'foo': etcd at http://127.0.0.1:2379 did not answer "
                              "POST /v3/kv/put (connection refused); is etcd running on http://127.0.0.1:2379?")


def test_a_refusal_carries_the_gateways_message_and_a_hint() -> None:
    refusal = {"error": "etcdserver: request is too large", "message": "etcdserver: request is too large", "code": 3}
    c, _ = client(Response(400, 1.0, json.dumps(refusal).encode()), Response(404, 1.0, b"404 page not found\n"),
                  Response(503, 1.0, b""))
    with pytest.raises(ConfigPushError, match=r"answered POST /v3/kv/put with 400: etcdserver: request is too "
                                              r"large; etcd refused the request as malformed"):
        c.put("foo", b"x")
    with pytest.raises(ConfigPushError, match=r"with 404: '404 page not found'; no /v3/ gateway there: is it etcd "
                                              r"3.4 or later"):
        c.get("foo")
    with pytest.raises(ConfigPushError, match=r"with 503: \(empty body\); see etcd's log"):
        c.delete("foo")


@pytest.mark.parametrize("body, why", [
    (b"<html>hello</html>", "a body that is not JSON"),
    (b'{"header": {"revision": "3"}, "kvs": {}}', "kvs is dict"),
    (b'{"health": "true"}', "its header is NoneType"),
    (b'{"header": {"revision": "3"}, "succeeded": 1}', "succeeded is 1"),
])
def test_an_answer_not_shaped_like_etcds_raises_with_what_was_wrong(body: bytes, why: str) -> None:
    c, _ = client(Response(200, 1.0, body))
    with pytest.raises(ConfigPushError, match=f"with 200 but {why}.*is http://127.0.0.1:2379 really etcd"):
        c.put_if("foo", b"", mod_revision=0) if b"succeeded" in body else c.get("foo")


def test_health_is_empty_when_etcd_says_true_and_says_what_is_wrong_otherwise() -> None:
    c, fake = client(Response(200, 1.0, b'{"health":"true"}'),
                     Response(503, 1.0, b'{"health":"false"}'),
                     Response(None, 3.0, error="timed out after 1500 ms", timed_out=True),
                     Response(200, 1.0, b"OK"))
    assert c.health() == ""
    assert c.health() == "etcd at http://127.0.0.1:2379 answered GET /health with 503: '{\"health\":\"false\"}'"
    assert c.health() == ("etcd at http://127.0.0.1:2379 did not answer GET /health (timed out after 1500 ms); "
                          "is etcd running on http://127.0.0.1:2379?")
    assert c.health() == "etcd at http://127.0.0.1:2379 answered GET /health with 200: 'OK'"
    assert [(m, p) for _h, _p, m, p, _b, _t in fake.calls] == [("GET", "/health")] * 4


@pytest.mark.parametrize("endpoint", ["127.0.0.1:2379", "https://127.0.0.1:2379", "http://127.0.0.1",
                                      "http://127.0.0.1:2379/v3", "http://:2379", "http://127.0.0.1:notaport"])
def test_an_endpoint_that_is_not_an_http_url_with_a_port_is_refused(endpoint: str) -> None:
    with pytest.raises(UsageError, match="must look like http://127.0.0.1:2379"):
        EtcdClient(endpoint)


def test_the_endpoint_may_end_in_a_slash_and_the_timeout_must_be_positive() -> None:
    assert EtcdClient("http://127.0.0.1:2379/").endpoint == ENDPOINT
    assert repr(EtcdClient(ENDPOINT)) == "EtcdClient('http://127.0.0.1:2379')"
    with pytest.raises(UsageError, match="timeout_s must be > 0"):
        EtcdClient(ENDPOINT, timeout_s=0)


def test_all_is_sorted() -> None:
    assert etcd.__all__ == sorted(etcd.__all__)
