"""The local runtime's start-up errors say where commands run, and its placeholders are what the docs say (pure)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest

from harness.errors import MeshNotReady
from harness.modes import Mode
from harness.runtime.local import (HOST, PLACEHOLDERS, LocalRuntime, command_placeholders, exited_while_starting,
                                   not_started)
from harness.topology import Topology

ROOT = Path("/srv/shop/chaos")
WHERE = ("commands run in the topology's folder /srv/shop/chaos (relative paths are relative to it; "
         "{root} is that folder)")


def test_a_command_that_names_a_missing_program_says_where_commands_run():
    exc = FileNotFoundError(2, "No such file or directory")
    msg = not_started("gateway", ["./run.sh", "--port", "8000"], exc, ROOT)
    assert msg == f"gateway could not be started: ./run.sh --port 8000: No such file or directory; {WHERE}"


def test_another_os_error_gets_no_hint_about_folders():
    msg = not_started("gateway", ["./run.sh"], PermissionError(13, "Permission denied"), ROOT)
    assert msg == "gateway could not be started: ./run.sh: Permission denied"


def test_python_that_cannot_open_its_script_gets_the_same_hint():
    tail = ("\n  last lines:\n    /usr/bin/python3: can't open file '/srv/shop/chaos/app/main.py': "
            "[Errno 2] No such file or directory")
    msg = exited_while_starting("gateway", 2, Path("/tmp/run/gateway.log"), tail, ROOT)
    assert msg == f"gateway exited with code 2 while starting; {WHERE}; its log: /tmp/run/gateway.log{tail}"


def test_a_service_that_exits_for_another_reason_gets_its_log_only():
    tail = "\n  last lines:\n    boom: bad flag"
    msg = exited_while_starting("front", 3, Path("/tmp/run/front.log"), tail, ROOT)
    assert msg == f"front exited with code 3 while starting; its log: /tmp/run/front.log{tail}"


def test_the_placeholders_are_exactly_what_a_command_may_use_and_what_each_becomes():
    subst = command_placeholders(8123, ROOT, Path("/tmp/run/data/gateway"))
    assert tuple(subst) == PLACEHOLDERS
    assert subst == {"python": sys.executable, "port": "8123", "host": HOST, "root": str(ROOT),
                     "data": "/tmp/run/data/gateway"}


def test_a_placeholder_the_runtime_does_not_fill_is_named_with_the_ones_it_does(tmp_path):
    topo = Topology.from_dict({"services": {"app": {"command": ["{python}", "app.py", "--dir", "{home}"]}}},
                              root=tmp_path)
    rt = LocalRuntime(topo, Mode("resilient"), state_dir=tmp_path)
    try:
        rt.ports = {"app": 8123}
        rt.record = types.SimpleNamespace(dir=tmp_path, log_dir=tmp_path)  # type: ignore[assignment]
        with pytest.raises(MeshNotReady) as info:
            rt._prepare(topo.service("app"))
    finally:
        rt._spawner.shutdown()
    assert str(info.value).startswith("services.app.command: ")
    assert "'home'" in str(info.value)
    assert "{python}, {port}, {host}, {root}, {data}; write {{ and }} for a literal brace" in str(info.value)
