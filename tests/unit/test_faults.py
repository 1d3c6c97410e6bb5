"""Fault values: validation, Toxiproxy payloads, topology checks, apply_patch and the CLI parser."""

from __future__ import annotations

import copy
import json

import pytest

import harness.config_faults as config_faults
import harness.faults as faults
import harness.process_faults as process_faults
from harness.errors import InvalidFault
from harness.faults import (
    DELETE,
    TOXIC_PREFIX,
    BadConfig,
    Bandwidth,
    Down,
    Fault,
    Kill,
    Latency,
    LimitData,
    Partition,
    Pause,
    ResetPeer,
    Restart,
    Slicer,
    SlowClose,
    Timeout,
    apply_patch,
    fault_from_spec,
    parse_fault,
)
from harness.topology import Topology
from harness.clients.toxiproxy import Toxic

EDGE = "timeline->media"


@pytest.fixture(scope="module")
def topo() -> Topology:
    return Topology.from_dict({
        "services": {"gateway": {}, "auth": {}, "timeline": {}, "media": {}, "redis": {"health": "tcp"}, "lonely": {}},
        "edges": {
            "gateway->auth": {"env": "AUTH_URL"},
            "gateway->timeline": {"env": "TIMELINE_URL"},
            "timeline->media": {"env": "MEDIA_URL"},
            "timeline->redis": {"env": "REDIS_URL", "url": "redis://{host}:{port}"},
        },
    })  # fmt: skip


ALL_EXAMPLES = [
    Latency(EDGE, ms=2000, jitter_ms=100),
    Bandwidth(EDGE, kbps=800, direction="upstream"),
    SlowClose(EDGE, ms=50),
    Timeout(EDGE, ms=0),
    ResetPeer(EDGE, ms=10, toxicity=0.5),
    Slicer(EDGE, avg_bytes=64, variation=16, delay_us=500, direction="both"),
    LimitData(EDGE, bytes_=1024),
    Down("gateway->auth"),
    Partition("timeline"),
    Kill("timeline"),
    Pause("redis"),
    Restart("auth"),
    BadConfig({"limits": {"rate": 5}}, name="whole"),
    BadConfig(patch={"limits.rate": "oops", "limits.burst": DELETE}),
    BadConfig(raw="{not json"),
    BadConfig.malformed(),
    BadConfig.wrong_type("limits.rate", "ten"),
    BadConfig.missing_section("limits"),
    BadConfig.out_of_range("limits.rate", -1),
]


# -- public surface ----------------------------------------------------------------


@pytest.mark.parametrize("module", [faults, process_faults, config_faults])
def test_all_is_sorted_and_exported(module):
    assert module.__all__ == sorted(module.__all__)
    for name in module.__all__:
        assert hasattr(module, name), name


def test_faults_reexports_process_and_config_faults():
    for name in process_faults.__all__[:3] + config_faults.__all__:
        assert getattr(faults, name) is getattr(process_faults if name in process_faults.__all__ else config_faults, name)


@pytest.mark.parametrize("fault", ALL_EXAMPLES, ids=lambda f: f.describe())
def test_every_fault_speaks_the_common_protocol(fault, topo):
    assert isinstance(fault, Fault)
    assert fault.kind in faults.FAULT_KINDS and faults.FAULT_KINDS[fault.kind] is type(fault)
    assert fault.category in ("network", "process", "config")
    line = fault.describe()
    assert "\n" not in line and line.startswith(type(fault).__name__ + "(")
    json.dumps(fault.params())  # JSON-able for the journal
    fault.validate(topo)
    assert isinstance(fault.edges(topo), tuple) and isinstance(fault.services(topo), tuple)
    hash(fault)


@pytest.mark.parametrize("fault", ALL_EXAMPLES, ids=lambda f: f.describe())
def test_spec_round_trip_through_json(fault):
    params = json.loads(json.dumps(fault.params()))
    assert fault_from_spec(fault.kind, fault.target, **params) == fault


# -- validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Latency(EDGE, ms=-5), "Latency.ms must be >= 0, got -5"),
        (lambda: Latency(EDGE, ms="5"), "Latency.ms must be a number, got '5'"),
        (lambda: Latency(EDGE, ms=True), "Latency.ms must be a number, got True"),
        (lambda: Latency(EDGE, ms=None), "Latency.ms must be a number, got None"),
        (lambda: Latency(EDGE, ms=float("nan")), "Latency.ms must be a number, got nan"),
        (lambda: Latency(EDGE, ms=2.5), "Latency.ms must be a whole number (Toxiproxy takes integers), got 2.5"),
        (lambda: Latency(EDGE, ms=10**13), "Latency.ms must be <= 9223372036854, got 10000000000000"),
        (lambda: Latency(EDGE, ms=1, jitter_ms=-1), "Latency.jitter_ms must be >= 0, got -1"),
        (lambda: Latency(EDGE, 1, toxicity=1.5), "Latency.toxicity must be <= 1, got 1.5"),
        (lambda: Latency(EDGE, 1, toxicity=-0.1), "Latency.toxicity must be >= 0, got -0.1"),
        (lambda: Latency(EDGE, 1, toxicity=False), "Latency.toxicity must be a number, got False"),
        (
            lambda: Latency(EDGE, 1, direction="sideways"),
            "Latency.direction must be one of 'downstream', 'upstream', 'both', got 'sideways'",
        ),
        (lambda: Bandwidth(EDGE, kbps=4), "Bandwidth.kbps must be >= 8, got 4"),
        (lambda: Bandwidth(EDGE, kbps=0), "Bandwidth.kbps must be >= 8, got 0"),
        (lambda: SlowClose(EDGE, ms=-1), "SlowClose.ms must be >= 0, got -1"),
        (lambda: Timeout(EDGE, ms="forever"), "Timeout.ms must be a number, got 'forever'"),
        (lambda: ResetPeer(EDGE, ms=-0.5), "ResetPeer.ms must be >= 0, got -0.5"),
        (lambda: Slicer(EDGE, avg_bytes=0), "Slicer.avg_bytes must be >= 1, got 0"),
        (lambda: Slicer(EDGE, avg_bytes=10, variation=10), "Slicer.variation must be < avg_bytes (10), got 10"),
        (lambda: Slicer(EDGE, avg_bytes=10, variation=-1), "Slicer.variation must be >= 0, got -1"),
        (lambda: Slicer(EDGE, avg_bytes=10, delay_us=-1), "Slicer.delay_us must be >= 0, got -1"),
        (lambda: LimitData(EDGE, bytes_=-1), "LimitData.bytes_ must be >= 0, got -1"),
        (lambda: LimitData(EDGE, bytes_=1.5), "LimitData.bytes_ must be a whole number (Toxiproxy takes integers), got 1.5"),
        (lambda: Latency("timeline", ms=1), "Latency.edge: edge 'timeline' is not of the form 'caller->callee'"),
        (lambda: Down(42), "Down.edge: an edge name must be a string like 'timeline->media', got 42"),
        (lambda: Kill(""), "Kill.service must be a service name like 'timeline', got ''"),
        (lambda: Pause("timeline->media"), "Pause.service must be a service name like 'timeline', got 'timeline->media'"),
        (lambda: Restart(None), "Restart.service must be a service name like 'timeline', got None"),
        (lambda: Partition("a b"), "Partition.service must be a service name like 'timeline', got 'a b'"),
    ],
)
def test_bad_parameters_raise_invalid_fault_naming_the_value(make, message):
    with pytest.raises(InvalidFault) as info:
        make()
    assert str(info.value) == message


def test_edges_are_normalised_and_whole_floats_become_ints():
    fault = Latency("  timeline ->  media ", ms=2000.0, toxicity=1)
    assert fault.edge == EDGE
    assert fault.ms == 2000 and isinstance(fault.ms, int)
    assert fault.toxicity == 1.0 and isinstance(fault.toxicity, float)
    assert fault == Latency(EDGE, 2000)


def test_zero_is_allowed_where_toxiproxy_gives_it_a_meaning():
    assert Timeout(EDGE, ms=0).attributes() == {"timeout": 0}  # blackhole until removed
    assert ResetPeer(EDGE, ms=0).attributes() == {"timeout": 0}  # reset at once
    assert LimitData(EDGE, bytes_=0).attributes() == {"bytes": 0}
    assert Latency(EDGE, 0, toxicity=0).toxics()[0].toxicity == 0.0


def test_faults_are_frozen():
    with pytest.raises(AttributeError):
        Latency(EDGE, 1).ms = 5  # type: ignore[misc]


# -- toxic payloads ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "type_", "attributes"),
    [
        (Latency(EDGE, ms=2000, jitter_ms=100), "latency", {"latency": 2000, "jitter": 100}),
        (Bandwidth(EDGE, kbps=800), "bandwidth", {"rate": 100}),
        (SlowClose(EDGE, ms=250), "slow_close", {"delay": 250}),
        (Timeout(EDGE, ms=3000), "timeout", {"timeout": 3000}),
        (ResetPeer(EDGE, ms=20), "reset_peer", {"timeout": 20}),
        (Slicer(EDGE, 64, 16, 500), "slicer", {"average_size": 64, "size_variation": 16, "delay": 500}),
        (LimitData(EDGE, bytes_=1024), "limit_data", {"bytes": 1024}),
    ],
)
def test_each_toxic_fault_builds_toxiproxys_payload(fault, type_, attributes):
    (toxic,) = fault.toxics()
    assert toxic == Toxic(
        name=f"cascade_{type_}_downstream", type=type_, stream="downstream", toxicity=1.0, attributes=attributes
    )
    assert toxic.payload() == {
        "name": f"cascade_{type_}_downstream",
        "type": type_,
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": attributes,
    }


def test_direction_both_gives_one_toxic_per_stream_with_distinct_names():
    toxics = Latency(EDGE, ms=100, direction="both", toxicity=0.25).toxics()
    assert [(t.name, t.stream) for t in toxics] == [
        ("cascade_latency_downstream", "downstream"),
        ("cascade_latency_upstream", "upstream"),
    ]
    assert all(t.toxicity == 0.25 and t.attributes == {"latency": 100, "jitter": 0} for t in toxics)


def test_upstream_toxic_and_names_unique_per_kind_and_stream():
    names = {t.name for f in ALL_EXAMPLES[:7] for t in f.toxics()}
    assert all(n.startswith(TOXIC_PREFIX) for n in names)
    assert Bandwidth(EDGE, kbps=800, direction="upstream").toxics()[0].name == "cascade_bandwidth_upstream"
    assert len({Latency(EDGE, 1).toxics()[0].name, Timeout(EDGE, 1).toxics()[0].name}) == 2


@pytest.mark.parametrize(("kbps", "rate"), [(8, 1), (11.9, 1), (12, 2), (100, 13), (800, 100), (8000, 1000), (1000.0, 125)])
def test_bandwidth_converts_kilobits_to_toxiproxys_kilobytes(kbps, rate):
    assert Bandwidth(EDGE, kbps=kbps).attributes() == {"rate": rate}


@pytest.mark.parametrize("fault", [Down("gateway->auth"), Partition("timeline")])
def test_down_and_partition_disable_proxies_instead_of_adding_toxics(fault):
    assert fault.toxics() == ()
    assert fault.disables_proxy


def test_describe_is_one_line_for_the_timeline():
    assert Latency(EDGE, ms=2000).describe() == "Latency(timeline->media, ms=2000, jitter_ms=0, downstream)"
    assert ResetPeer(EDGE, 5, toxicity=0.5).describe() == "ResetPeer(timeline->media, ms=5, downstream, toxicity=0.5)"
    assert Bandwidth(EDGE, 800, direction="both").describe() == "Bandwidth(timeline->media, kbps=800, both)"
    assert Down("gateway -> auth").describe() == "Down(gateway->auth)"
    assert Partition("media").describe() == "Partition(media)"
    assert Kill("timeline").describe() == "Kill(timeline)"
    assert BadConfig.missing_section("limits").describe() == "BadConfig(missing_section limits: delete limits)"
    assert len(BadConfig(raw="x" * 1000).describe()) <= 160


def test_params_put_the_faults_own_parameters_first():
    assert list(Latency(EDGE, 1).params()) == ["ms", "jitter_ms", "direction", "toxicity"]
    assert Down("a->b").params() == {} and Kill("a").params() == {}


# -- topology checks -------------------------------------------------------------------


def test_unknown_edge_lists_the_edges_that_exist(topo):
    with pytest.raises(InvalidFault) as info:
        Latency("timeline->medai", ms=1).validate(topo)
    assert str(info.value) == (
        "unknown edge 'timeline->medai'; edges are: gateway->auth, gateway->timeline, timeline->media, timeline->redis"
    )
    with pytest.raises(InvalidFault, match="unknown edge 'a->b'; edges are: gateway->auth"):
        Down("a->b").edges(topo)


@pytest.mark.parametrize("fault", [Kill("timelne"), Pause("timelne"), Restart("timelne"), Partition("timelne")])
def test_unknown_service_lists_the_services_that_exist(fault, topo):
    with pytest.raises(InvalidFault) as info:
        fault.validate(topo)
    assert str(info.value) == "unknown service 'timelne'; services are: auth, gateway, lonely, media, redis, timeline"


def test_partition_cuts_every_edge_into_and_out_of_its_service(topo):
    part = Partition("timeline")
    assert part.edges(topo) == ("gateway->timeline", "timeline->media", "timeline->redis")
    assert part.downs(topo) == tuple(Down(e) for e in part.edges(topo))
    assert part.services(topo) == ("timeline",)
    assert Partition("auth").edges(topo) == ("gateway->auth",)


def test_partition_of_a_service_without_edges_is_refused(topo):
    with pytest.raises(InvalidFault, match="'lonely' has no edges to cut"):
        Partition("lonely").validate(topo)


def test_what_each_fault_acts_on(topo):
    assert Latency(EDGE, 1).edges(topo) == (EDGE,) and Latency(EDGE, 1).services(topo) == ()
    assert Kill("media").edges(topo) == () and Kill("media").services(topo) == ("media",)
    assert BadConfig(raw="x").edges(topo) == () and BadConfig(raw="x").services(topo) == ()


def test_process_faults_name_their_signals():
    assert (Kill.signal, Kill.revert_signal) == ("SIGKILL", None)
    assert (Pause.signal, Pause.revert_signal) == ("SIGSTOP", "SIGCONT")
    assert (Restart.signal, Restart.revert_signal) == (None, None)
    assert {Kill.category, Pause.category, Restart.category} == {"process"}


# -- BadConfig and apply_patch -------------------------------------------------------------


def test_bad_config_takes_exactly_one_form():
    with pytest.raises(InvalidFault, match=r"exactly one of document=, patch=, raw=; got none"):
        BadConfig()
    with pytest.raises(InvalidFault, match=r"got document, raw"):
        BadConfig({"a": 1}, raw="x")
    assert BadConfig(raw="").form == "raw"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"document": ["not", "a", "mapping"]}, r"BadConfig.document must be a mapping, got list"),
        ({"document": {"a": object()}}, r"BadConfig.document.a: a object is not JSON-able"),
        ({"document": {"a": float("inf")}}, r"not valid JSON; push it as raw= text"),
        ({"document": {1: "x"}}, r"key 1 is not a string"),
        ({"patch": {}}, r"BadConfig.patch must be a non-empty mapping"),
        ({"patch": {"a..b": 1}}, r"'a..b' is not a dotted path"),
        ({"patch": {"": 1}}, r"'' is not a dotted path"),
        ({"patch": {"a": {1, 2}}}, r"a set is not JSON-able"),
        ({"raw": b"bytes"}, r"BadConfig.raw must be a str, got bytes"),
        ({"raw": "x", "name": 5}, r"BadConfig.name must be a str"),
    ],
)
def test_bad_config_rejects_what_cannot_be_pushed(kwargs, match):
    with pytest.raises(InvalidFault, match=match):
        BadConfig(**kwargs)


def test_bad_config_keeps_its_own_copy_of_the_document():
    doc = {"limits": {"rate": 5}}
    fault = BadConfig(doc)
    doc["limits"]["rate"] = 6
    assert fault.document == {"limits": {"rate": 5}}


def test_ready_made_bad_configs():
    assert BadConfig.malformed().raw == faults.MALFORMED_JSON
    with pytest.raises(json.JSONDecodeError):
        json.loads(BadConfig.malformed().raw)
    cut = BadConfig.malformed({"limits": {"rate": 5}, "rules": ["a", "b"]}).raw
    assert cut and json.dumps({"limits": {"rate": 5}, "rules": ["a", "b"]}).startswith(cut)
    with pytest.raises(json.JSONDecodeError):
        json.loads(cut)
    with pytest.raises(InvalidFault, match="document must be a mapping, got int"):
        BadConfig.malformed(5)  # type: ignore[arg-type]
    assert BadConfig.malformed({}).raw == "{"
    assert BadConfig.wrong_type("limits.rate", "ten").patch == {"limits.rate": "ten"}
    assert BadConfig.missing_section("limits").patch == {"limits": DELETE}
    assert BadConfig.out_of_range("limits.rate", -1).name == "out_of_range limits.rate"


def test_bad_config_params_encode_delete_as_an_operation():
    fault = BadConfig(patch={"a.b": 1, "c": DELETE}, name="n")
    assert fault.params() == {"patch": [["set", "a.b", 1], ["delete", "c"]], "name": "n"}
    assert repr(DELETE) == "DELETE"


def test_apply_patch_sets_nested_keys_and_creates_missing_tables():
    doc = {"limits": {"rate": 5, "burst": 10}, "name": "policy"}
    before = copy.deepcopy(doc)
    patch = {"limits.rate": "oops", "access.free_api.enabled": False, "name": {"now": "a table"}}
    out = apply_patch(doc, patch)
    assert out == {
        "limits": {"rate": "oops", "burst": 10},
        "name": {"now": "a table"},
        "access": {"free_api": {"enabled": False}},
    }
    assert doc == before  # input untouched
    out["limits"]["burst"] = 0
    assert doc == before  # and shares nothing with the output
    assert patch == {"limits.rate": "oops", "access.free_api.enabled": False, "name": {"now": "a table"}}


def test_apply_patch_deletes_keys_and_list_elements():
    doc = {"limits": {"rate": 5, "burst": 10}, "rules": [{"action": "allow"}, {"action": "deny"}]}
    before = copy.deepcopy(doc)
    assert apply_patch(doc, {"limits.burst": DELETE, "rules.0": DELETE}) == {
        "limits": {"rate": 5},
        "rules": [{"action": "deny"}],
    }
    assert apply_patch(doc, {"rules.1.action": "allow"})["rules"][1] == {"action": "allow"}
    assert apply_patch(doc, {"limits": DELETE}) == {"rules": doc["rules"]}
    assert doc == before


def test_apply_patch_applies_paths_in_order():
    assert apply_patch({}, {"a": {"x": 1}, "a.y": 2}) == {"a": {"x": 1, "y": 2}}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"limits.gone": DELETE}, "cannot delete 'limits.gone': limits has no key 'gone'; keys there are: rate"),
        ({"nope.deeper": DELETE}, "cannot delete 'nope.deeper': 'nope' does not exist"),
        ({"limits.rate.x": 1}, "cannot apply 'limits.rate.x': 'limits.rate' is a number, not an object or array"),
        ({"rules.5": 1}, "cannot apply 'rules.5': '5' is not an index of an array of 1"),
        ({"rules.first": 1}, "cannot apply 'rules.first': 'first' is not an index of an array of 1"),
        ({"top": DELETE, "top2": DELETE}, "cannot delete 'top': the document has no key 'top'; keys there are: limits, rules"),
    ],
)
def test_apply_patch_refuses_patches_that_do_not_fit(patch, message):
    with pytest.raises(InvalidFault) as info:
        apply_patch({"limits": {"rate": 5}, "rules": ["allow"]}, patch)
    assert str(info.value) == message


def test_apply_patch_accepts_a_bad_config_patch_and_needs_a_mapping():
    fault = BadConfig.wrong_type("limits.rate", [1, 2])
    assert apply_patch({"limits": {"rate": 5}}, fault.patch) == {"limits": {"rate": [1, 2]}}
    with pytest.raises(InvalidFault, match="the document must be a mapping, got list"):
        apply_patch([], {"a": 1})  # type: ignore[arg-type]


# -- fault_from_spec and parse_fault --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("latency timeline->media ms=2000 jitter_ms=100", Latency(EDGE, ms=2000, jitter_ms=100)),
        ("latency timeline -> media ms=2000", Latency(EDGE, ms=2000)),
        ("latency timeline->media ms=2000 direction=both toxicity=0.5", Latency(EDGE, 2000, direction="both", toxicity=0.5)),
        ("bandwidth timeline->media kbps=64", Bandwidth(EDGE, kbps=64)),
        ("slow-close timeline->media ms=10", SlowClose(EDGE, ms=10)),
        ("timeout timeline->media ms=0", Timeout(EDGE, ms=0)),
        ("reset_peer timeline->media ms=1e3", ResetPeer(EDGE, ms=1000)),
        ("slicer timeline->media avg_bytes=8 variation=2 delay_us=10", Slicer(EDGE, 8, 2, 10)),
        ("limit_data timeline->media bytes_=100", LimitData(EDGE, bytes_=100)),
        ("down gateway->auth", Down("gateway->auth")),
        ("partition timeline", Partition("timeline")),
        ("kill timeline", Kill("timeline")),
        ("pause redis", Pause("redis")),
        ("RESTART auth", Restart("auth")),
        ("bad_config malformed", BadConfig.malformed()),
        ("bad_config wrong_type path=limits.rate value=oops", BadConfig.wrong_type("limits.rate", "oops")),
        ("bad_config wrong_type path=limits.rate value='\"5\"'", BadConfig.wrong_type("limits.rate", "5")),
        ("bad_config out_of_range path=limits.rate value=-1", BadConfig.out_of_range("limits.rate", -1)),
        ("bad_config missing_section path=limits", BadConfig.missing_section("limits")),
        ("bad_config raw raw='{\"a\": ' name=cut", BadConfig(raw='{"a": ', name="cut")),
    ],
)
def test_parse_fault(text, expected):
    assert parse_fault(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "an empty fault; write e.g. 'latency timeline->media ms=2000'"),
        (
            "latncy timeline->media ms=1",
            "unknown fault kind 'latncy'; kinds are: latency, bandwidth, slow_close, timeout, reset_peer, "
            "slicer, limit_data, down, partition, kill, pause, restart, bad_config, http_error, http_delay, http_replace",
        ),
        ("latency timeline->media msec=1", "latency has no parameter 'msec'; it takes: ms, jitter_ms, direction, toxicity"),
        ("down gateway->auth direction=both", "down has no parameter 'direction'; it takes: no parameters"),
        ("latency timeline->media", "latency needs ms=, e.g. 'latency timeline->media ms=100'"),
        ("latency timeline->media ms=fast", "Latency.ms must be a number, got 'fast'"),
        ("latency timeline->media ms=1 ms=2", "'latency timeline->media ms=1 ms=2': 'ms=2' is not a new parameter name=value"),
        (
            "latency timeline->media ms=1 extra",
            "'latency timeline->media ms=1 extra': 'extra' comes after the parameters; write parameters as name=value",
        ),
        ("kill", "Kill.service must be a service name like 'timeline', got ''"),
        ("latency 'unclosed", "cannot read fault \"latency 'unclosed\": No closing quotation"),
        (
            "bad_config sideways",
            "bad_config has no form 'sideways'; forms are: "
            "document, patch, raw, malformed, wrong_type, missing_section, out_of_range",
        ),
        ("bad_config wrong_type path=a", "bad_config wrong_type needs value="),
        ("bad_config malformed path=a", "bad_config malformed has no parameter 'path'; it takes: document, source"),
    ],
)
def test_parse_fault_errors_say_what_is_accepted(text, message):
    with pytest.raises(InvalidFault) as info:
        parse_fault(text)
    assert str(info.value) == message


def test_fault_from_spec_rejects_a_non_string_kind():
    with pytest.raises(InvalidFault, match="unknown fault kind 5"):
        fault_from_spec(5, "a->b")  # type: ignore[arg-type]


def test_fault_from_spec_accepts_the_journals_patch_operations():
    fault = fault_from_spec("bad_config", "patch", patch=[["set", "a", 1], ["delete", "b"]])
    assert fault == BadConfig(patch={"a": 1, "b": DELETE})
    with pytest.raises(InvalidFault, match=r"\['move', 'a'\] is not \['set', path, value\]"):
        fault_from_spec("bad_config", "patch", patch=[["move", "a"]])
