"""Crash safety: the runner killed at seeded random points (start, faults active, revert), many times.

A small runner script brings the fixture mesh up, applies a fault of every kind the fixture mesh
has (a toxic, a disabled proxy, a paused process, a killed process) and reverts them, printing
where it is. SIGKILL at a random point of that leaves at most a state file; the recovery (the
next run's start, or `cascade cleanup`) must report what it cleaned, and afterwards no process,
toxic, paused process or state file of the killed run may exist. SIGINT and SIGTERM of a pytest
run must revert everything at once, the runner cleaning up itself.

Every mesh process inherits the runner's environment, so the marker `CASCADE_CRASH_RUN=<i>` in
/proc/PID/environ finds the processes of run i even if the run died before recording them.
"""

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from .conftest import MINI

pytestmark = pytest.mark.integration

KILLS = 30
SEED = 1111
PHASES = ("start", "faults", "revert")

RUNNER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from harness import Chaos, Mesh, load_topology, parse_fault

    def say(*words):
        print(*words, flush=True)

    say("phase start")
    mesh = Mesh(load_topology(sys.argv[1]), state_dir=Path(sys.argv[2]))
    mesh.start()
    say("reaped", json.dumps(mesh.runtime.reaped))
    chaos = Chaos(mesh, observe=False)
    say("phase faults")
    for line in json.loads(sys.argv[3]):
        chaos.apply(parse_fault(line))
    if mesh.topology.config_service:
        say("config", json.dumps(mesh.config().current().version))
    say("phase active")
    time.sleep(0.2)
    say("phase revert")
    chaos.revert_all()
    say("phase reverted")
    mesh.stop()
    say("phase done")
""")


def marked(run: str) -> list[tuple[int, str, str]]:
    """(pid, state letter, command) of every live process carrying CASCADE_CRASH_RUN=<run>."""
    needle = f"CASCADE_CRASH_RUN={run}\0".encode()
    found = []
    for env in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle not in env.read_bytes() + b"\0":
                continue
            stat = (env.parent / "stat").read_bytes()
            cmd = (env.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        state = stat.rsplit(b")", 1)[1].split()[0].decode()
        if state != "Z":
            found.append((int(env.parent.name), state, cmd.strip()))
    return found


def wait_unmarked(run: str, within_s: float = 5.0) -> list[tuple[int, str, str]]:
    deadline = time.monotonic() + within_s
    while (left := marked(run)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


# A fault of every kind each topology has: a toxic, a disabled proxy, a paused and a killed
# process, and on the bundled mesh (which has a config service) a pushed bad config.
MINI_FAULTS = ["latency front->back ms=300", "down front->back", "pause back", "kill front"]
BUNDLED = Path(__file__).parents[2] / "services" / "topology.toml"
BUNDLED_FAULTS = ['bad_config wrong_type path=timeouts_ms.redis value="100ms"', "latency timeline->media ms=300",
                  "down gateway->auth", "pause auth", "kill media"]


def start_runner(i: object, state_dir: Path, toxiproxy_server: str, *, topology: Path = MINI,
                 faults: list[str] = MINI_FAULTS) -> subprocess.Popen[str]:
    env = dict(os.environ, CASCADE_CRASH_RUN=str(i), TOXIPROXY_SERVER=toxiproxy_server)
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(topology), str(state_dir), json.dumps(faults)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def read_until(proc: subprocess.Popen[str], marker: str, lines: list[str], within_s: float = 30.0) -> bool:
    """Read the runner's lines (kept in `lines`) until `marker`; False if it exited first."""
    if marker in lines:
        return True
    deadline = time.monotonic() + within_s
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            return False
        lines.append(line.strip())
        if line.strip() == marker:
            return True
    raise AssertionError(f"runner never printed {marker!r} in {within_s} s; it said: {lines}")


def state_files_of(state_dir: Path, pid: int) -> list[Path]:
    return [p for p in state_dir.glob("runs/*/state.json") if json.loads(p.read_text())["owner_pid"] == pid]


def cleanup(state_dir: Path) -> list[str]:
    done = subprocess.run([sys.executable, "-m", "harness.cli", "cleanup"], capture_output=True, text=True,
                          env=dict(os.environ, CASCADE_STATE_DIR=str(state_dir)), timeout=30)
    assert done.returncode == 0, done.stderr
    return [line for line in done.stdout.splitlines() if line.startswith("cleaned up:")]


def test_sigkill_at_random_points_leaves_nothing_after_recovery(tmp_path, toxiproxy_server):
    rng = random.Random(SEED)
    state_dir = tmp_path / "state"
    tally = {"kills": 0, "by_phase": {p: 0 for p in PHASES}, "leftovers": [], "reported": 0, "expected_reports": 0}
    pending: tuple[int, int] | None = None  # (run, runner pid) killed and not yet recovered
    for i in range(KILLS + 1):
        proc = start_runner(i, state_dir, toxiproxy_server)
        lines: list[str] = []
        if pending is not None:
            # This run's start is the recovery of the previous one: it must reap and say so.
            assert read_until(proc, "phase faults", lines), lines
            reaped = json.loads(next(line for line in lines if line.startswith("reaped "))[len("reaped "):])
            run, pid = pending
            tally["reported"] += any(f"runner pid {pid} is gone" in line for line in reaped)
            tally["leftovers"] += [f"run {run}: {p}" for p in marked(str(run))]
            tally["leftovers"] += [f"run {run}: {p}" for p in state_files_of(state_dir, pid)]
            pending = None
        if i == KILLS:
            proc.kill()
            proc.wait()
            break
        # A recovering run has already started (it had to, to report what it reaped).
        phase = rng.choice(PHASES if i == 0 or "phase faults" not in lines else PHASES[1:])
        delay_s = rng.uniform(0, {"start": 0.4, "faults": 0.15, "revert": 0.1}[phase])
        reached = read_until(proc, f"phase {phase}", lines)
        time.sleep(delay_s)
        proc.kill()
        proc.wait()
        tally["kills"] += 1
        tally["by_phase"][phase] += 1
        assert reached, f"run {i} exited before phase {phase}: {lines}"
        wait_unmarked(str(i))  # the kernel's parent-death signal takes the mesh down with its runner
        left_state = state_files_of(state_dir, proc.pid)
        if not left_state:
            continue  # killed before the state file was written, or after it was closed
        tally["expected_reports"] += 1
        if i % 2:
            cleaned = cleanup(state_dir)  # the other route of recovery: `cascade cleanup`
            tally["reported"] += any(f"runner pid {proc.pid} is gone" in line for line in cleaned)
            tally["leftovers"] += [f"run {i}: {p}" for p in marked(str(i))]
            tally["leftovers"] += [f"run {i}: {p}" for p in state_files_of(state_dir, proc.pid)]
        else:
            pending = (i, proc.pid)
    print(f"crash safety: {tally['kills']} SIGKILLs {tally['by_phase']}, "
          f"{tally['expected_reports']} left a state file, {tally['reported']} reported cleaned, "
          f"{len(tally['leftovers'])} leftovers after recovery")
    assert tally["kills"] == KILLS and all(tally["by_phase"].values())
    assert tally["leftovers"] == []
    assert tally["reported"] == tally["expected_reports"] > 0
    assert list(state_dir.glob("runs/*/state.json")) == []


def test_sigkill_with_a_bad_config_pushed_leaves_nothing_and_the_next_mesh_starts_from_the_default(
        tmp_path, toxiproxy_server):
    state_dir = tmp_path / "state"
    for i, phase in enumerate(("phase active", "phase revert")):
        proc = start_runner(f"b{i}", state_dir, toxiproxy_server, topology=BUNDLED, faults=BUNDLED_FAULTS)
        lines: list[str] = []
        assert read_until(proc, phase, lines, within_s=60), lines
        proc.kill()
        proc.wait()
        assert "config 2" in lines  # the bad config really was pushed (version 1 is the default)
        assert wait_unmarked(f"b{i}") == []
        assert len(state_files_of(state_dir, proc.pid)) == 1
        # Recovery by the next run's start: it reaps the dead run and its config service starts afresh.
        nxt = start_runner(f"n{i}", state_dir, toxiproxy_server, topology=BUNDLED, faults=[])
        lines = []
        assert read_until(nxt, "phase active", lines, within_s=60), lines
        reaped = json.loads(next(line for line in lines if line.startswith("reaped "))[len("reaped "):])
        assert any(f"runner pid {proc.pid} is gone" in line for line in reaped), reaped
        assert "config 1" in lines  # no pushed config survived its run
        assert state_files_of(state_dir, proc.pid) == [] and marked(f"b{i}") == []
        nxt.kill()
        nxt.wait()
        assert wait_unmarked(f"n{i}") == []
    assert cleanup(state_dir) and list(state_dir.glob("runs/*/state.json")) == []


SCENARIO = textwrap.dedent("""
    import os, time
    from harness.faults import Down, Kill, Latency, Pause

    def test_hold_faults(mesh, chaos):
        for fault in (Latency("front->back", ms=300), Down("front->back"), Pause("back"), Kill("front")):
            chaos.apply(fault)
        print("phase active", flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_sigint_or_sigterm_of_a_pytest_run_reverts_at_once_by_itself(tmp_path, toxiproxy_server, sig):
    (tmp_path / "test_hold.py").write_text(SCENARIO)
    run = f"sig{int(sig)}"
    env = dict(os.environ, CASCADE_STATE_DIR=str(tmp_path / "state"), TOXIPROXY_SERVER=toxiproxy_server,
               CASCADE_CRASH_RUN=run)
    proc = subprocess.Popen([sys.executable, "-m", "pytest", "-s", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
                             f"--cascade-topology={MINI}", str(tmp_path / "test_hold.py")],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert read_until(proc, "phase active", lines), lines
    states = {cmd.split()[-1]: state for _pid, state, cmd in marked(run) if "app.py" in cmd}
    assert states == {"back": "T"}  # front killed, back paused: the faults are really in place
    t0 = time.monotonic()
    proc.send_signal(sig)
    out = proc.communicate(timeout=20)[0]
    took = time.monotonic() - t0
    assert proc.returncode != 0 and "KeyboardInterrupt" in out, out
    assert took < 10, f"the runner took {took:.1f} s to revert and stop"
    assert marked(run) == []  # gone at once: no reaper needed
    assert list((tmp_path / "state").glob("runs/*/state.json")) == []
    assert cleanup(tmp_path / "state") == []  # nothing left for a later run to clean
