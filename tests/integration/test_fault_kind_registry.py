"""The fault-kind registry is the only dispatch: a kind defined here, in this test module alone, goes everywhere.

`Stall` is a kind no harness module knows: a Toxiproxy latency toxic under its own name. Once
registered it is parsed by `parse_fault`, applied (verified) and reverted by `Chaos` against the
real Toxiproxy of the fixture mesh, drawn by the exploration strategies and the sweep, and listed
by `cascade inject --help`, with no change to any other file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
from hypothesis import find, settings

from harness.chaos import Chaos
from harness.cli import main as cascade
from harness.faults import (
    FAULT_KINDS, DrawContext, ProcessFault, ToxicFault, fault_from_spec, parse_fault, register_fault_kind,
    unregister_fault_kind,
)  # fmt: skip
from harness.mesh import Mesh
from harness.clients.probe import http_request
from harness.explore.strategies import edge_faults, faults, process_faults
from harness.explore.sweep import representatives
from harness.topology import load_topology

from .conftest import MINI

pytestmark = pytest.mark.integration

EDGE = "front->back"
STALL_MS = 300


@dataclass(frozen=True)
class Stall(ToxicFault):
    """Every chunk on the edge held `ms` milliseconds: Toxiproxy's latency toxic, under this kind's own name."""

    ms: int
    kind: ClassVar[str] = "test_stall"
    toxic_type: ClassVar[str] = "latency"
    _checks = (("ms", 0, 60_000, True),)

    def attributes(self) -> dict[str, int]:
        return {"latency": self.ms, "jitter": 0}

    def drain_s(self) -> float:
        return self.ms / 1000

    @classmethod
    def draw(cls, ctx: DrawContext) -> Any:
        from hypothesis import strategies as st

        return cls._per_edge(ctx, lambda e: st.just(cls(e, ms=ctx.horizon_ms)))

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> Stall:
        return cls(edge, ms=horizon_ms)


@dataclass(frozen=True)
class Nap(ProcessFault):
    """A process-family kind that only exploration sees here (never applied): drawn with Kill, Pause, Restart."""

    kind: ClassVar[str] = "test_nap"


@pytest.fixture(scope="module", autouse=True)
def registered():
    """The test's kinds, registered for this module only (the registry is process-wide)."""
    for cls in (Stall, Nap):
        register_fault_kind(cls)
    yield
    for cls in (Stall, Nap):
        unregister_fault_kind(cls.kind)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    with Mesh(load_topology(MINI), state_dir=tmp_path_factory.mktemp("state")) as m:
        yield m


def test_parse_fault_and_fault_from_spec_build_the_test_kind():
    fault = parse_fault(f"test_stall {EDGE} ms={STALL_MS}")
    assert fault == Stall(EDGE, ms=STALL_MS)
    assert fault_from_spec(fault.kind, fault.target, **fault.params()) == fault
    assert FAULT_KINDS["test_stall"] is Stall


def test_chaos_applies_the_test_kind_verified_and_reverts_it(mesh):
    mesh.reset()
    host, port = mesh.proxy_address(EDGE)
    chaos = Chaos(mesh, observe=False)
    try:
        with chaos.inject(Stall(EDGE, ms=STALL_MS)):
            toxics = mesh.toxiproxy.proxies()[EDGE].toxics
            assert [(t.name, t.type, t.attributes["latency"]) for t in toxics] == [
                ("cascade_test_stall_downstream", "latency", STALL_MS)]
            slow = http_request(host, port, "GET", "/ping", timeout_s=5.0)
        fast = http_request(host, port, "GET", "/ping", timeout_s=5.0)
    finally:
        chaos.revert_all()
        chaos.close()
    assert slow.status == 200 and slow.elapsed_ms >= STALL_MS
    assert fast.status == 200 and fast.elapsed_ms < slow.elapsed_ms
    assert mesh.toxiproxy.proxies()[EDGE].toxics == ()
    assert [(e.action, e.kind, e.targets) for e in chaos.timeline] == [
        ("applied", "test_stall", (EDGE,)), ("reverted", "test_stall", (EDGE,))]


def test_the_strategies_and_the_sweep_draw_the_test_kinds():
    topo = load_topology(MINI)
    quick = settings(max_examples=2_000, database=None)
    drawn = find(edge_faults(topo), lambda f: f.kind == "test_stall", settings=quick)
    assert isinstance(drawn, Stall) and drawn.edge in topo.edges
    assert isinstance(find(process_faults(topo), lambda f: f.kind == "test_nap", settings=quick), Nap)
    assert find(faults(topo), lambda f: f.kind == "test_stall", settings=quick).kind == "test_stall"
    assert "test_stall" in [f.kind for f in representatives(topo, EDGE)]


def test_cascade_inject_help_lists_the_test_kind(capsys):
    with pytest.raises(SystemExit) as exit_:
        cascade(["inject", "--help"])
    assert exit_.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split() == ["test_stall", "EDGE", "ms=V"] for line in lines), "\n".join(lines)
    assert any(line.split() == ["test_nap", "SERVICE"] for line in lines)


def test_a_second_class_under_a_taken_kind_name_is_refused():
    @dataclass(frozen=True)
    class Impostor(ToxicFault):
        kind: ClassVar[str] = "latency"

    with pytest.raises(Exception, match="the fault kind 'latency' is taken by harness.faults.network.Latency"):
        register_fault_kind(Impostor)
