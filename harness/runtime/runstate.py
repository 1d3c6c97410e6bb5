"""Run-state files: what a live mesh owns, so the next run can reap it if its runner died.

    <state_dir>/runs/<run_id>/state.json   owner (pid + start time), processes, extra resources
    <state_dir>/runs/<run_id>/logs/        one log file per process

A process is identified by its pid *and* its start time (field 22 of /proc/PID/stat, in clock
ticks: exact, where psutil's create_time is a float derived from it), so a recycled pid is never
killed by mistake. Each mesh process leads its own process group, so
killing the group also takes any children it spawned.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import HarnessError, UsageError

__all__ = ["ProcessRecord", "RunRecord", "kill_group", "process_start_ticks", "reap_leftovers", "reap_run",
           "register_reaper"]

KEEP_LOG_DIRS = 20


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot, or None if it does not exist."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(b")") + 2 :].split()
    if fields[0] == b"Z":  # a zombie has exited; only its exit status is left to collect
        return None
    return int(fields[19])


def _same_process(pid: int, ticks: int) -> bool:
    return process_start_ticks(pid) == ticks


@dataclass(frozen=True)
class ProcessRecord:
    """One process a mesh started; it leads its own process group."""

    name: str
    pid: int
    ticks: int


@dataclass
class RunRecord:
    """The state file of one mesh; rewritten atomically on every change."""

    run_id: str
    dir: Path
    owner_pid: int
    owner_ticks: int
    detached: bool = False
    processes: list[ProcessRecord] = field(default_factory=list)
    resources: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def create(cls, state_dir: Path, *, detached: bool = False) -> RunRecord:
        run_id = time.strftime("%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]
        run_dir = state_dir / "runs" / run_id
        (run_dir / "logs").mkdir(parents=True)
        pid = os.getpid()
        rec = cls(run_id=run_id, dir=run_dir, owner_pid=pid,
                  owner_ticks=process_start_ticks(pid) or 0, detached=detached)
        rec.save()
        return rec

    @property
    def path(self) -> Path:
        return self.dir / "state.json"

    @property
    def log_dir(self) -> Path:
        return self.dir / "logs"

    @property
    def owner_alive(self) -> bool:
        """Whether the runner that wrote this file still runs (same pid *and* start time)."""
        return _same_process(self.owner_pid, self.owner_ticks)

    def add_process(self, name: str, pid: int) -> ProcessRecord:
        rec = ProcessRecord(name=name, pid=pid, ticks=process_start_ticks(pid) or 0)
        self.processes.append(rec)
        self.save()
        return rec

    def drop_process(self, pid: int) -> None:
        self.processes = [p for p in self.processes if p.pid != pid]
        self.save()

    def add_resource(self, **resource: Any) -> dict[str, Any]:
        """Record `resource` (a `kind` and what its reaper needs); returns it, to update or drop later."""
        self.resources.append(resource)
        self.save()
        return resource

    def drop_resource(self, resource: dict[str, Any]) -> None:
        self.resources = [r for r in self.resources if r is not resource]
        self.save()

    def save(self) -> None:
        data = {
            "run_id": self.run_id,
            "owner_pid": self.owner_pid,
            "owner_ticks": self.owner_ticks,
            "detached": self.detached,
            "processes": [asdict(p) for p in self.processes],
            "resources": self.resources,
        }
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)  # atomic: a reaper never reads half a file

    def close(self) -> None:
        """The mesh is down: forget its state, keep its logs."""
        self.path.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        data = json.loads(path.read_text())
        return cls(
            run_id=data["run_id"],
            dir=path.parent,
            owner_pid=data["owner_pid"],
            owner_ticks=data["owner_ticks"],
            detached=data.get("detached", False),
            processes=[ProcessRecord(**p) for p in data.get("processes", [])],
            resources=list(data.get("resources", [])),
        )


ResourceReaper = Callable[[dict[str, Any]], str | None]


def _ended_fault(resource: dict[str, Any]) -> str:
    # A fault recorded by `cascade inject` lives in the mesh's processes (a toxic, a stopped
    # process, a pushed config): killing them ended it; say so, so no fault goes unmentioned.
    return f"fault {resource.get('fault', '?')} ({resource.get('state', 'active')}; ended with its mesh)"


# Every kind of resource a run records -> its reaper. Runtimes add theirs with register_reaper when
# their module is imported (harness/__init__ imports them all), so any caller of reap_leftovers
# gets all of them: a local run also cleans up after a dead compose run and the other way round.
DEFAULT_REAPERS: dict[str, ResourceReaper] = {"fault": _ended_fault}


def register_reaper(kind: str, reaper: ResourceReaper) -> None:
    """Reap run-state resources of `kind` with `reaper` (it returns what it removed, or None if nothing was left)."""
    if DEFAULT_REAPERS.get(kind, reaper) is not reaper:
        raise UsageError(f"a reaper for resources of kind {kind!r} is already registered "
                           f"({DEFAULT_REAPERS[kind]!r}); record the new resources under another kind")
    DEFAULT_REAPERS[kind] = reaper


def reap_leftovers(
    state_dir: Path,
    *,
    include_detached: bool = False,
    resource_reapers: dict[str, ResourceReaper] | None = None,
) -> list[str]:
    """Kill what meshes of dead runners left behind; return one line per thing cleaned."""
    runs = state_dir / "runs"
    cleaned: list[str] = []
    if not runs.is_dir():
        return cleaned
    for path in sorted(runs.glob("*/state.json")):
        try:
            rec = RunRecord.load(path)
        except (OSError, ValueError, KeyError, TypeError):
            path.unlink(missing_ok=True)  # unreadable state: nothing we could act on
            continue
        if rec.detached and not include_detached:
            continue
        if not rec.detached and rec.owner_alive:
            continue  # a live mesh of another runner: not ours to touch
        cleaned.extend(_reap(rec, DEFAULT_REAPERS if resource_reapers is None else resource_reapers))
    _prune_log_dirs(runs)
    return cleaned


def reap_run(state_dir: Path, run_id: str) -> list[str]:
    """Stop what one run left behind, whoever owns it (a detached mesh whose holder died); [] if nothing."""
    try:
        rec = RunRecord.load(state_dir / "runs" / run_id / "state.json")
    except FileNotFoundError:
        return []
    return _reap(rec, DEFAULT_REAPERS)


def kill_group(pid: int, ticks: int, sig: int = signal.SIGKILL) -> bool:
    """Signal the process group led by (pid, ticks) if that process still exists."""
    if not _same_process(pid, ticks):
        return False
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        os.kill(pid, sig)
    return True


def _reap(rec: RunRecord, resource_reapers: dict[str, ResourceReaper]) -> list[str]:
    why = "detached mesh" if rec.detached else f"runner pid {rec.owner_pid} is gone"
    cleaned = []
    for p in rec.processes:
        if kill_group(p.pid, p.ticks):
            cleaned.append(f"killed {p.name} (pid {p.pid}) left by run {rec.run_id} ({why})")
    kept = False
    for res in rec.resources:
        reaper = resource_reapers.get(res.get("kind", ""))
        if reaper is None:
            continue
        try:
            line = reaper(res)
        except HarnessError as exc:  # e.g. no Docker engine: the resource may still exist, keep its record
            kept = True
            cleaned.append(f"could not clean {res.get('kind')} {res.get('project', '')} left by run {rec.run_id} "
                           f"({why}): {exc}; kept its state file, run `cascade cleanup` once that is fixed")
            continue
        if line:
            cleaned.append(f"{line} left by run {rec.run_id} ({why})")
    if not cleaned:
        cleaned.append(f"forgot run {rec.run_id} ({why}; its processes had already exited)")
    if not kept:
        rec.close()
    return cleaned


def _prune_log_dirs(runs: Path) -> None:
    dirs = sorted(d for d in runs.iterdir() if d.is_dir() and not (d / "state.json").exists())
    for d in dirs[:-KEEP_LOG_DIRS]:
        shutil.rmtree(d, ignore_errors=True)
