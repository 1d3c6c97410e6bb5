"""The runtime extension point: both built-in runtimes meet the Runtime protocol, and the registry makes them by name."""

from __future__ import annotations

import dataclasses
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.mesh import RUNTIMES as MESH_RUNTIMES
from harness.mesh import Mesh
from harness.modes import parse_mode
from harness.runtime.runstate import DEFAULT_REAPERS, register_reaper
from harness.runtime import RUNTIMES, Runtime, make_runtime, register_runtime
from harness.runtime.compose import ComposeRuntime, reap_compose_project
from harness.runtime.local import LocalRuntime
from harness.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def topology():
    return load_topology(ROOT / "services" / "topology.toml")


def _protocol_members() -> set[str]:
    return {n for n in vars(Runtime) if not n.startswith("_")} | set(Runtime.__annotations__)


def test_built_ins_are_registered_local_first() -> None:
    assert list(RUNTIMES) == ["local", "compose"]
    assert MESH_RUNTIMES is RUNTIMES  # harness.mesh.RUNTIMES stays importable, and is the registry


@pytest.mark.parametrize("name", list(RUNTIMES))
def test_each_registered_runtime_meets_the_protocol(name: str, topology, tmp_path: Path) -> None:
    rt = make_runtime(name, topology, parse_mode("resilient", topology.knobs), state_dir=tmp_path)
    assert isinstance(rt, Runtime)
    assert rt.name == name
    missing = sorted(m for m in _protocol_members() if not hasattr(rt, m))
    assert not missing, f"{type(rt).__name__} lacks {missing}"


@pytest.mark.parametrize("cls", [LocalRuntime, ComposeRuntime])
def test_methods_take_the_protocols_parameters(cls: type) -> None:
    for name, member in vars(Runtime).items():
        if name.startswith("_") or not inspect.isfunction(member):
            continue
        want = list(inspect.signature(member).parameters)
        got = list(inspect.signature(getattr(cls, name)).parameters)
        assert got == want, f"{cls.__name__}.{name}{got} differs from Runtime.{name}{want}"


def test_every_protocol_member_has_a_docstring() -> None:
    source = inspect.getsource(Runtime)
    for name in _protocol_members():
        member = vars(Runtime).get(name)
        if inspect.isfunction(member) or isinstance(member, property):
            assert (member.__doc__ or "").strip(), f"Runtime.{name} has no docstring"
        else:  # an attribute: documented by the string literal after it
            assert f"    {name}:" in source, name


def test_an_unknown_runtime_names_the_runtimes(topology) -> None:
    with pytest.raises(UsageError, match=r"unknown runtime 'k8s'; runtimes are: local, compose"):
        Mesh(topology, runtime="k8s")


def test_compose_needs_the_topologys_compose_file(topology) -> None:
    topology = dataclasses.replace(topology, compose_file=None)
    with pytest.raises(UsageError, match="the compose runtime needs the topology's compose file"):
        Mesh(topology, runtime="compose")


def test_a_registered_runtime_is_made_by_name(topology, monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.runtime import base

    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    monkeypatch.setattr(base, "RUNTIMES", base.MappingProxyType(base._FACTORIES))
    made = []

    @register_runtime("fake")
    def fake(topology, mode, **kw):
        made.append(kw)
        return LocalRuntime(topology, mode, **kw)

    assert isinstance(make_runtime("fake", topology, parse_mode("resilient", topology.knobs), detached=True), LocalRuntime)
    assert made == [{"detached": True}]
    with pytest.raises(UsageError, match="registered twice"):
        register_runtime("fake")(lambda *a, **k: None)


def test_compose_registers_its_reaper_and_a_second_one_is_refused() -> None:
    assert DEFAULT_REAPERS["compose"] is reap_compose_project
    register_reaper("compose", reap_compose_project)  # the same one again is harmless
    with pytest.raises(UsageError, match="already registered"):
        register_reaper("compose", lambda _r: None)


def test_the_local_runtime_never_imports_docker() -> None:
    code = ("import sys, harness, harness.mesh, harness.runtime, harness.runtime.runstate; "
            "assert 'docker' not in sys.modules, 'docker imported'; print(list(harness.runtime.RUNTIMES))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "['local', 'compose']"
