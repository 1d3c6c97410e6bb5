"""HTTP fault values (pure): what they accept, refuse by name, and turn into the engine's rules."""

from __future__ import annotations

import pytest

from harness import HttpDelay, HttpError, HttpReplace
from harness.errors import InvalidFault
from harness.faults import parse_fault
from harness.topology import Topology

TOPO = Topology.from_dict({
    "services": {"app": {"command": ["x"]}, "api": {"command": ["y"]}, "cache": {"command": ["z"]},
                 "raw": {"command": ["w"]}},
    "edges": {"app->api": {"env": "API_URL"}, "app->cache": {"env": "CACHE_URL", "url": "redis://{host}:{port}/0"},
              "app->raw": {"env": "RAW_ADDR", "url": "{host}:{port}", "protocol": "http"}},
})  # fmt: skip


def test_a_json_body_is_compact_json_with_its_content_type():
    f = HttpError("app->api", status=403, body={"errors": [{"code": 467, "message": "plan"}]})
    assert f.body == b'{"errors":[{"code":467,"message":"plan"}]}'
    assert dict(f.headers) == {"content-type": "application/json"}
    assert f.rule().action == "abort" and f.rule().status == 403


def test_str_and_bytes_bodies_are_sent_as_given_and_headers_are_lower_cased():
    f = HttpReplace("app->api", status=200, body="<html>oops</html>", headers={"Content-Type": "text/html"})
    assert (f.body, dict(f.headers)) == (b"<html>oops</html>", {"content-type": "text/html"})
    assert HttpError("app->api", status=500, body=b"\x00\xff").body == b"\x00\xff"


@pytest.mark.parametrize(("make", "message"), [
    (lambda: HttpError("app->api", status=99), "HttpError.status must be an HTTP status 200..599, got 99"),
    (lambda: HttpError("app->api", status="403"), "HttpError.status must be an HTTP status 200..599, got '403'"),
    (lambda: HttpError("app->api", status=503, percent=0), "HttpError.percent must be in (0, 100], got 0"),
    (lambda: HttpError("app->api", status=503, percent=101), "HttpError.percent must be in (0, 100], got 101"),
    (lambda: HttpError("app->api", status=503, first=0), "HttpError.first must be a whole number >= 1"),
    (lambda: HttpError("app->api", status=503, path="media"), "HttpError.path must start with '/'"),
    (lambda: HttpError("app->api", status=503, path="/a*b"), "HttpError.path must start with '/'"),
    (lambda: HttpError("app->api", status=503, method="FETCH"), "HttpError.method must be one of GET, HEAD"),
    (lambda: HttpError("app->api", status=503, body={1, 2}), "HttpError.body must be bytes, str or a JSON-able value"),
    (lambda: HttpDelay("app->api", ms=0), "HttpDelay.ms must be >= 1, got 0"),
    (lambda: HttpDelay("app->api", ms=1.5), "HttpDelay.ms must be a whole number"),
    (lambda: HttpReplace("app->api", status=700), "HttpReplace.status must be an HTTP status 200..599, got 700"),
    (lambda: HttpError("app-api", status=503), "HttpError.edge"),
])  # fmt: skip
def test_bad_values_are_refused_naming_the_value(make, message):
    with pytest.raises(InvalidFault) as info:
        make()
    assert message in str(info.value)


def test_only_http_edges_take_http_faults_and_a_declared_protocol_counts():
    HttpError("app->api", status=503).validate(TOPO)  # http:// by default
    HttpDelay("app->raw", ms=10).validate(TOPO)  # protocol = "http" on a bare host:port
    with pytest.raises(InvalidFault, match=r"app->cache is not an HTTP edge \(its url is 'redis://"):
        HttpError("app->cache", status=503).validate(TOPO)


def test_an_unknown_protocol_is_refused_with_the_choices():
    from harness.errors import InvalidTopology

    with pytest.raises(InvalidTopology, match=r"edges.'app->api'.protocol: 'grpc' is not one of http, tcp"):
        Topology.from_dict({"services": {"app": {"command": ["x"]}, "api": {"command": ["y"]}},
                            "edges": {"app->api": {"env": "API_URL", "protocol": "grpc"}}})


def test_the_cli_words_build_the_same_faults_and_a_json_file_body_is_json(tmp_path):
    body = tmp_path / "err.json"
    body.write_text('{"code":467}')
    f = parse_fault(f"http_error app->api status=403 body=@{body} percent=30 path=/x/* method=get first=2")
    assert (f.status, f.body, f.percent, f.path, f.method, f.first) == (403, b'{"code":467}', 30, "/x/*", "GET", 2)
    assert dict(f.headers) == {"content-type": "application/json"}
    assert parse_fault("http_delay app->api ms=800 percent=50") == HttpDelay("app->api", ms=800, percent=50)
    with pytest.raises(InvalidFault, match="cannot read"):
        parse_fault(f"http_error app->api status=403 body=@{tmp_path / 'missing.json'}")


def test_a_fault_rebuilt_from_its_params_is_the_same_fault():
    for f in (HttpError("app->api", status=403, body={"a": 1}, first=3, path="/x"),
              HttpDelay("app->api", ms=800, percent=50, method="POST"),
              HttpReplace("app->api", status=200, body="<p>", headers={"content-type": "text/html"})):
        assert type(f).from_spec(f.target, **f.params()) == f
