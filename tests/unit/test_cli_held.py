"""The bookkeeping of meshes held up between commands: one per topology name, stale ones forgotten."""

import os

import pytest

from harness.cli._held import HeldMesh, claim, find_held, occupied
from harness.cli._holder import matcher
from harness.errors import InvalidFault, InvalidTopology, MeshError, UsageError
from harness.runtime.runstate import process_start_ticks
from harness.topology import Topology

TOPO = Topology.from_dict({
    "mesh": {"name": "t"},
    "services": {"a": {"command": ["x"]}, "b": {"command": ["x"]}, "c": {"command": ["x"]}},
    "edges": {"a->b": {"env": "B_URL"}, "b->c": {"env": "C_URL"}},
    "journeys": {"j": {"service": "a", "path": "/", "edges": ["a->b"], "budget_ms": 100}},
})


def held(name="t", *, alive=True, run_id="r1", state="up"):
    pid = os.getpid() if alive else 2**22 + 7  # above pid_max's default: never a live process
    return HeldMesh(name=name, topology=f"/x/{name}.toml", runtime="local", mode="resilient", holder_pid=pid,
                    holder_ticks=process_start_ticks(os.getpid()) if alive else 1, port=1, token="s",
                    state=state, run_id=run_id)


def test_heal_targets_an_edge_or_a_service_with_its_edges():
    on_edge, on_b = matcher(TOPO, "a -> b"), matcher(TOPO, "b")
    assert on_edge(("a->b",)) and not on_edge(("b->c",)) and not on_edge(("b",))
    assert on_b(("a->b",)) and on_b(("b->c",)) and on_b(("b",)) and not on_b(("a",))
    assert matcher(TOPO, None)(("anything",))


def test_heal_names_an_unknown_target_and_what_exists():
    with pytest.raises(InvalidFault, match=r"unknown edge or service 'z'; services are: a, b, c; edges are: a->b, b->c"):
        matcher(TOPO, "z")
    with pytest.raises(InvalidTopology, match=r"unknown edge 'a->c'; edges are: a->b, b->c"):
        matcher(TOPO, "a->c")


def test_one_mesh_per_topology_name(tmp_path):
    path = claim(tmp_path, held())
    assert path.stat().st_mode & 0o777 == 0o600  # the token drives the mesh
    with pytest.raises(UsageError, match=r"mesh 't' is already up .*stop it with `cascade down --topology /x/t.toml`"):
        claim(tmp_path, held())
    assert find_held(tmp_path)[0] == held()
    claim(tmp_path, held("u"))
    with pytest.raises(UsageError, match=r"2 meshes are up \(t, u\); choose one with --topology PATH"):
        find_held(tmp_path)
    assert find_held(tmp_path, "u")[0].name == "u"


def test_a_dead_holder_whose_mesh_was_stopped_is_forgotten(tmp_path):
    (tmp_path / "up").mkdir()
    held(alive=False).save(tmp_path / "up" / "t.json")
    assert occupied(tmp_path, "t") == "" and not (tmp_path / "up" / "t.json").exists()
    with pytest.raises(UsageError, match="no mesh is up"):
        find_held(tmp_path)


def test_a_dead_holder_whose_mesh_still_runs_points_at_down(tmp_path):
    (tmp_path / "runs" / "r1").mkdir(parents=True)
    (tmp_path / "runs" / "r1" / "state.json").write_text("{}")
    (tmp_path / "up").mkdir()
    held(alive=False).save(tmp_path / "up" / "t.json")
    assert "left running by a holder that died" in occupied(tmp_path, "t")
    with pytest.raises(MeshError, match=r"has died; `cascade down` stops what it left"):
        find_held(tmp_path)
    assert find_held(tmp_path, any_state=True)[0].holder_pid == held(alive=False).holder_pid
