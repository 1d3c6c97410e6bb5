"""Config sources: the registry, a source defined here driving Mesh.config() and BadConfig, the applied wait (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.apply import apply_fault
from harness.config import (
    CONFIG_SOURCES,
    Applied,
    ConfigClient,
    ConfigSource,
    ConfigVersion,
    await_applied,
    make_config_source,
    register_config_source,
)
from harness.config.applied import ServiceState, Unknown, parse_state
from harness.errors import InvalidTopology, MeshError, UsageError, VerificationFailed
from harness.faults import BadConfig
from harness.mesh import Mesh
from harness.topology import Topology


class MemorySource:
    """A config source kept in a list: what a test (or a later file/env source) needs to provide."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.versions: list[tuple[str, str]] = [(json.dumps(document), "initial")]

    def current(self) -> ConfigVersion:
        raw = self.versions[-1][0]
        return ConfigVersion(len(self.versions), raw, json.loads(raw))

    def push(self, raw: str, *, note: str = "") -> int:
        self.versions.append((raw, note))
        return len(self.versions)

    def rollback(self, to_version: int, *, expect_raw: str | None = None) -> int:
        raw = self.versions[to_version - 1][0]
        if expect_raw is not None and raw != expect_raw:
            raise VerificationFailed(f"version {to_version} is not the expected text")
        return self.push(raw, note=f"rollback to {to_version}")

    def history(self) -> list[dict[str, Any]]:
        return [{"version": i + 1, "note": note} for i, (_, note) in enumerate(self.versions)]

    def applied(self, version: int) -> Applied:
        return Applied(version, running=("front",))


SOURCES: dict[int, MemorySource] = {}  # id(mesh) -> its source: one per mesh, as a real source would be


@pytest.fixture
def memory():
    @register_config_source("memory")
    def memory_source(mesh: Mesh) -> MemorySource:
        return SOURCES.setdefault(id(mesh), MemorySource({"timeouts_ms": {"back": 300}}))

    yield memory_source
    CONFIG_SOURCES.pop("memory", None)
    SOURCES.clear()


def topology(**mesh: Any) -> Topology:
    return Topology.from_dict({
        "mesh": {"name": "t", **mesh},
        "services": {"front": {"command": ["x"]}, "back": {"command": ["x"]}},
        "edges": {"front->back": {"env": "BACK_URL"}},
    })


def test_http_is_registered_and_the_topology_defaults_to_it():
    assert "http" in CONFIG_SOURCES
    assert topology().config_source == "http"


def test_a_registered_source_is_what_mesh_config_and_bad_config_use(memory):
    mesh = Mesh(topology(config_source="memory"))  # not started: a memory source needs no process
    source = mesh.config()
    assert isinstance(source, MemorySource) and isinstance(source, ConfigSource)
    undo = apply_fault(mesh, BadConfig(patch={"timeouts_ms.back": 0}))
    assert source.current().document == {"timeouts_ms": {"back": 0}}
    assert source.versions[-1][1].startswith("cascade: BadConfig(")
    undo()
    assert source.current().version == 3 and source.current().document == {"timeouts_ms": {"back": 300}}


def test_an_unknown_source_names_the_registered_ones():
    mesh = Mesh(topology(config_source="vault"))
    with pytest.raises(UsageError, match=r"unknown config source 'vault'.*registered: .*http"):
        mesh.config()


def test_http_without_a_config_service_says_what_to_declare():
    with pytest.raises(UsageError, match=r"declares no config source: add a \[config.NAME\] table .* or "
                                         r"config_service = \"<service>\" under \[mesh\]"):
        Mesh(topology()).config()


def test_a_factory_that_builds_no_source_is_refused_naming_what_it_lacks():
    register_config_source("half")(lambda mesh: object())
    try:
        with pytest.raises(UsageError, match="lacks current, push, rollback, history, applied"):
            make_config_source("half", Mesh(topology()))
    finally:
        CONFIG_SOURCES.pop("half")


def test_a_name_is_registered_once(memory):
    with pytest.raises(UsageError, match="'memory' is already registered"):
        register_config_source("memory")(lambda mesh: MemorySource({}))
    with pytest.raises(UsageError, match="must be lowercase"):
        register_config_source("My Source")


def test_a_client_built_by_hand_cannot_say_who_applied():
    with pytest.raises(UsageError, match="get the client from mesh.config"):
        ConfigClient("127.0.0.1", 1, "t").applied(2)


@pytest.mark.parametrize("mesh, message", [
    ({"config_source": "Etc D"}, "mesh.config_source: 'Etc D' is not a config source name"),
    ({"config_apply_s": 0}, r"mesh.config_apply_s: must be a number of seconds in \(0, 600\], got 0"),
    ({"config_apply_s": "5"}, "mesh.config_apply_s: must be a number"),
    ({"config_apply_s": True}, "mesh.config_apply_s: must be a number"),
])
def test_bad_config_keys_name_the_field(mesh, message):
    with pytest.raises(InvalidTopology, match=message):
        topology(**mesh)


def test_the_new_keys_change_the_digest_only_when_set():
    assert topology().digest() == topology(config_source="http", config_apply_s=5).digest()
    assert topology().digest() != topology(config_apply_s=1.5).digest()
    assert topology(config_apply_s=1.5).config_apply_s == 1.5


# -- waiting for the consumers ----------------------------------------------------------


class Scripted:
    """A source whose applied() answers from a script (the last answer repeats)."""

    def __init__(self, *answers: Applied) -> None:
        self.answers = list(answers)

    def applied(self, version: int) -> Applied:
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def wait(source: Any, **kw: Any) -> tuple[Applied, Clock, list[str]]:
    clock, lines = Clock(), []
    got = await_applied(source, 7, within_s=5.0, log=lines.append, clock=clock, sleep=clock.sleep, **kw)
    return got, clock, lines


def test_the_wait_ends_when_every_consumer_runs_the_version():
    got, clock, lines = wait(Scripted(Applied(7, behind={"a": 6}), Applied(7, running=("a",))))
    assert got.settled and clock.t == pytest.approx(0.05) and lines == []


def test_a_rejection_is_an_error_naming_the_service():
    with pytest.raises(MeshError, match=r"^b rejected config version 7 \(explore\); see its log$"):
        wait(Scripted(Applied(7, running=("a",), rejected=("b",))), why="explore")


def test_a_consumer_still_behind_at_the_declared_time_is_an_error():
    with pytest.raises(MeshError, match=r"not running within 5 s \(mesh.config_apply_s\) on: a \(version 6\)"):
        wait(Scripted(Applied(7, behind={"a": 6})))


def test_a_service_that_cannot_say_costs_the_declared_time_and_a_log_line():
    got, clock, lines = wait(Scripted(Applied(7, running=("a",), unknown={"b": "GET /cascade/v1/state answered 404"})))
    assert clock.t >= 5.0 and got.unknown
    assert lines == ["cannot know whether b (GET /cascade/v1/state answered 404) applied config version 7; "
                     "waited the declared mesh.config_apply_s = 5 s instead"]


# -- reading the applied-version protocol -----------------------------------------------------


def test_a_full_state_is_read():
    body = json.dumps({"service": "t", "config_version": 4, "config_rejected": [3],
                       "calls_abandoned": {"media": 2}, "calls_sent": {"media": 9}}).encode()
    assert parse_state("t", 200, body) == ServiceState("t", 4, (3,), {"media": 2}, {"media": 9})


def test_left_out_fields_mean_no_config_and_no_count():
    assert parse_state("t", 200, b"{}") == ServiceState("t", None, (), None)


@pytest.mark.parametrize("status, body, error, why", [
    (None, b"", "connection refused", "did not answer GET /cascade/v1/state: connection refused"),
    (404, b"nope", "", "does not speak the applied-version protocol: GET /cascade/v1/state answered 404"),
    (200, b"<html>", "", "not JSON"),
    (200, b"[1]", "", "answered list, not a JSON object"),
    (200, b'{"config_version": "4"}', "", "config_version must be an integer or null, got '4'"),
    (200, b'{"config_rejected": 3}', "", "config_rejected must be a list of integers"),
    (200, b'{"calls_abandoned": {"x": "1"}}', "", "calls_abandoned must map callee to an integer"),
    (200, b'{"calls_sent": [1]}', "", "calls_sent must map callee to an integer"),
])
def test_what_cannot_be_read_says_why(status, body, error, why):
    got = parse_state("t", status, body, error)
    assert isinstance(got, Unknown) and why in got.why


def test_amplification_of_a_caller_that_does_not_report_calls_sent_is_refused_naming_the_field():
    from pathlib import Path

    from harness.clients.probe import Response
    from harness.judge.assertions import ChaosAssertions
    from harness.topology import load_topology

    MINI_TOPOLOGY = Path(__file__).parents[1] / "fixtures" / "mini" / "topology.toml"

    class Silent(ChaosAssertions):
        """A chaos on a mesh whose services answer the protocol without calls_sent."""

        def __init__(self):
            self.mesh = type("M", (), {"topology": load_topology(MINI_TOPOLOGY),
                                       "request": lambda *a, **k: Response(200, 1.0, b"{}")})()
            self.calls_before = {"front": {"back": 0}}

    with pytest.raises(UsageError, match="cannot judge retry amplification on front->back: front its GET "
                                         "/cascade/v1/state has no calls_sent"):
        Silent().amplification("front->back", requests=10)
