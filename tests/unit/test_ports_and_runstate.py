"""Port leases never overlap between meshes; run-state files let the next run reap a dead runner's processes."""

import os
import signal
import socket
import subprocess
import sys
import time

from harness.runtime.ports import lease_ports
from harness.runtime.runstate import RunRecord, process_start_ticks, reap_leftovers


def test_two_leases_never_share_a_port(tmp_path):
    a = lease_ports(30, tmp_path)
    b = lease_ports(30, tmp_path)
    try:
        assert len(set(a.ports)) == 30
        assert not set(a.ports) & set(b.ports)
    finally:
        a.release()
        b.release()


def test_a_port_in_use_is_skipped(tmp_path):
    import random
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        # Force the scan to start at the busy port when it lies in the leased range.
        lease = lease_ports(3, tmp_path, rng=random.Random(0))
        try:
            assert busy not in lease.ports
        finally:
            lease.release()


def test_released_ports_can_be_leased_again(tmp_path):
    import random
    a = lease_ports(5, tmp_path, rng=random.Random(7))
    first = list(a.ports)
    a.release()
    b = lease_ports(5, tmp_path, rng=random.Random(7))
    try:
        assert b.ports == first
    finally:
        b.release()


def _orphan(tmp_path, *, detached=False):
    """A run record whose owner is a dead process and which owns a live `sleep` group."""
    owner = subprocess.Popen([sys.executable, "-c", "pass"])
    owner.wait()
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    rec = RunRecord.create(tmp_path, detached=detached)
    rec.owner_pid, rec.owner_ticks = owner.pid, 1  # a dead owner
    rec.add_process("svc", child.pid)
    return rec, child


def test_the_next_run_reaps_a_dead_runners_processes(tmp_path):
    rec, child = _orphan(tmp_path)
    cleaned = reap_leftovers(tmp_path)
    assert child.wait(timeout=5) == -signal.SIGKILL
    assert len(cleaned) == 1 and f"killed svc (pid {child.pid})" in cleaned[0]
    assert not rec.path.exists()
    assert rec.log_dir.exists()  # logs are kept for the post-mortem


def test_a_live_runners_mesh_is_left_alone(tmp_path):
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        rec = RunRecord.create(tmp_path)  # owned by this live process
        rec.add_process("svc", child.pid)
        assert reap_leftovers(tmp_path) == []
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_detached_meshes_are_reaped_only_when_asked(tmp_path):
    rec, child = _orphan(tmp_path, detached=True)
    try:
        assert reap_leftovers(tmp_path) == []
        assert child.poll() is None
        assert len(reap_leftovers(tmp_path, include_detached=True)) == 1
        assert child.wait(timeout=5) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()


def test_a_recycled_pid_is_not_killed(tmp_path):
    rec, child = _orphan(tmp_path)
    try:
        rec.processes[0] = type(rec.processes[0])("svc", child.pid, rec.processes[0].ticks + 1)
        rec.save()
        cleaned = reap_leftovers(tmp_path)
        assert [line for line in cleaned if "killed" in line] == []
        assert "forgot run" in cleaned[0]
        assert child.poll() is None
    finally:
        child.kill()
        child.wait()


def test_start_ticks_of_missing_process_is_none():
    assert process_start_ticks(os.getpid()) is not None
    p = subprocess.Popen(["true"])
    p.wait()
    time.sleep(0.01)
    assert process_start_ticks(p.pid) is None


def test_key_leases_are_all_or_none_and_name_the_first_key_held_elsewhere(tmp_path):
    from harness.runtime.ports import PortLease, lease_keys

    first = lease_keys({"file:/a": "the file /a"}, tmp_path)
    assert isinstance(first, PortLease)
    assert lease_keys({"file:/b": "the file /b", "file:/a": "the file /a"}, tmp_path) == "the file /a"
    other = lease_keys({"file:/b": "the file /b"}, tmp_path)  # /b was not kept by the refused lease
    assert isinstance(other, PortLease)
    first.release()
    again = lease_keys({"file:/a": "the file /a"}, tmp_path)
    assert isinstance(again, PortLease)
    again.release()
    other.release()
