"""Soak: run a pytest suite N times and report flakes, leftovers and the resource trend of each run.

    for run in 1..N:   pytest ARGS --junitxml=<workdir>/run-<i>.xml   (sampled every 0.5 s:
                       processes, open fds and RSS of the whole pytest process tree)
                       └─> leftovers: processes that outlived pytest (we are their subreaper,
                           so an orphan comes back to us), their listening sockets, state files
                           of dead runners, compose projects that appeared and stayed
    reproducible = tests that failed in every run they ran in
    flaky        = tests that failed in one run and passed in another (never counted as a pass)
    flakes       = tests whose outcome differed between runs at all (flaky, or run in some runs only)

`flakes`, `trend` and `render` are pure; `run_soak` is the loop that starts the subprocesses.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import psutil

from ..errors import ProvisionError, UsageError
from ..runtime.runstate import RunRecord, kill_group, process_start_ticks
from .verify import parse_junit

__all__ = ["RunSample", "SoakReport", "failure_class", "flakes", "listening_sockets", "render", "run_soak", "trend"]

# Every sample walks /proc; at 20 Hz that was CPU taken from the 2-core mesh under test and
# coincided with timing flakes. Peaks over a run of tens of seconds need no finer grain.
SAMPLE_EVERY_S = 0.5
ORPHAN_GRACE_S = 2.0  # a parent-death signal or a SIGTERM handler needs a moment to finish
_PR_SET_CHILD_SUBREAPER = 36


@dataclass(frozen=True)
class RunSample:
    """One run of the suite: its outcomes, what it left behind and its peak resource use."""

    run: int
    exit_code: int
    seconds: float
    outcomes: Mapping[str, str]  # test id -> pass|fail|skip
    leftovers: tuple[str, ...] = ()
    peak_processes: int = 0
    peak_fds: int = 0
    peak_rss_mb: float = 0.0


@dataclass(frozen=True)
class SoakReport:
    """Every run of a soak, in order."""

    runs: tuple[RunSample, ...] = field(default_factory=tuple)

    @property
    def flakes(self) -> dict[str, tuple[str, ...]]:
        return flakes([r.outcomes for r in self.runs])

    def failures(self, klass: str) -> dict[str, tuple[str, ...]]:
        """Test id -> its outcome in each run, for the tests whose failures are of `klass` (see failure_class)."""
        return {t: outs for t, outs in _per_test([r.outcomes for r in self.runs]).items()
                if failure_class(outs) == klass}

    @property
    def leftovers(self) -> list[str]:
        return [f"run {r.run}: {line}" for r in self.runs for line in r.leftovers]

    @property
    def ok(self) -> bool:
        return (bool(self.runs) and not self.flakes and not self.failures("reproducible") and not self.leftovers
                and all(r.outcomes for r in self.runs))


def flakes(runs: Sequence[Mapping[str, str]]) -> dict[str, tuple[str, ...]]:
    """Test id -> its outcome in each run ('-' where it did not run), for tests that differed."""
    return {t: outs for t, outs in _per_test(runs).items() if len(set(outs)) > 1}


def _per_test(runs: Sequence[Mapping[str, str]]) -> dict[str, tuple[str, ...]]:
    """Test id -> its outcome in each run, '-' where it did not run, by test id."""
    ids = sorted(set().union(*(set(r) for r in runs))) if runs else []
    return {t: tuple(r.get(t, "-") for r in runs) for t in ids}


def failure_class(outcomes: Sequence[str]) -> str:
    """'reproducible' if a test failed in every run it ran in, 'flaky' if it failed and passed, else ''."""
    ran = [o for o in outcomes if o in ("pass", "fail")]
    if "fail" not in ran:
        return ""
    return "flaky" if "pass" in ran else "reproducible"


def trend(values: Sequence[float]) -> str:
    """'steady' unless the last run used noticeably more than the first (a leak grows run by run)."""
    if len(values) < 2 or values[0] <= 0:
        return "steady"
    growth = values[-1] / values[0] - 1
    return f"growing (+{growth:.0%} from run 1 to run {len(values)})" if growth > 0.25 else "steady"


def render(report: SoakReport) -> str:
    """The soak's report: one line per run, then flakes, leftovers and the trend."""
    lines = ["run  exit  seconds  tests  failed  peak procs  peak fds  peak RSS MB  leftovers"]
    for r in report.runs:
        failed = sum(o == "fail" for o in r.outcomes.values())
        lines.append(f"{r.run:>3}  {r.exit_code:>4}  {r.seconds:>7.1f}  {len(r.outcomes):>5}  {failed:>6}  "
                     f"{r.peak_processes:>10}  {r.peak_fds:>8}  {r.peak_rss_mb:>11.1f}  {len(r.leftovers)}")
    lines.append("")
    for klass, why in (("reproducible", "failed in every run"), ("flaky", "failed, and passed when run again")):
        found = report.failures(klass)
        lines.append(f"{klass}: {len(found)} ({why})" + "".join(f"\n  {t}: {' '.join(o)}" for t, o in sorted(found.items())))
    found = report.flakes
    lines.append(f"flakes: {len(found)}" + "".join(f"\n  {t}: {' '.join(o)}" for t, o in sorted(found.items())))
    lines.append(f"leftovers: {len(report.leftovers)}" + "".join(f"\n  {line}" for line in report.leftovers))
    empty = [r.run for r in report.runs if not r.outcomes]
    if empty:
        lines.append(f"runs without any test result (see their logs): {', '.join(map(str, empty))}")
    for what, values in (("processes", [r.peak_processes for r in report.runs]),
                         ("open fds", [r.peak_fds for r in report.runs]),
                         ("RSS", [r.peak_rss_mb for r in report.runs])):
        lines.append(f"trend of {what}: {trend(values)}")
    return "\n".join(lines)


# -- the I/O shell ---------------------------------------------------------------------


def run_soak(
    runs: int,
    pytest_args: Sequence[str],
    workdir: Path,
    *,
    state_dir: Path,
    log: Callable[[str], None] = lambda _line: None,
) -> SoakReport:
    """Run `pytest pytest_args` `runs` times; each run's outcomes, leftovers and peak resources."""
    if runs < 1:
        raise UsageError(f"soak needs at least 1 run, got {runs}; e.g. `cascade soak 3 scenarios -k march`")
    workdir.mkdir(parents=True, exist_ok=True)
    _become_subreaper()
    samples = []
    projects_before = _compose_projects()
    for i in range(1, runs + 1):
        xml, out = workdir / f"run-{i}.xml", workdir / f"run-{i}.log"
        xml.unlink(missing_ok=True)
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={xml}", *pytest_args]
        log(f"run {i}/{runs}: {' '.join(argv[1:])} (output in {out})")
        stale_before = set(_stale_state_files(state_dir))  # another runner's, not this run's doing
        t0 = time.monotonic()
        with open(out, "wb") as f:
            proc = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            peak = _watch(proc)
        seconds = time.monotonic() - t0
        left = _leftover_processes() + [line for line in _stale_state_files(state_dir) if line not in stale_before]
        projects = _compose_projects()
        if projects is not None and projects_before is not None:
            ours = {f"cascade-{d.name}" for d in (state_dir / "runs").glob("*")}  # not another runner's project
            left += [f"compose project {p} still exists" for p in sorted((projects - projects_before) & ours)]
        sample = RunSample(i, proc.returncode, seconds, parse_junit(xml) if xml.exists() else {}, tuple(left), *peak)
        log(f"  exit {sample.exit_code}, {len(sample.outcomes)} tests, {seconds:.1f} s, {len(left)} leftover(s)")
        samples.append(sample)
    return SoakReport(tuple(samples))


def _become_subreaper() -> None:
    """Orphans of the suite (a mesh process whose runner died) are reparented to us, so we see them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise ProvisionError(f"prctl(PR_SET_CHILD_SUBREAPER) failed: {os.strerror(ctypes.get_errno())}")


def _tree(root: int) -> list[int]:
    """`root` and every process descending from it ([] once `root` is gone)."""
    try:
        return [root, *(c.pid for c in psutil.Process(root).children(recursive=True))]
    except psutil.Error:
        return []


def _usage(pid: int) -> tuple[int, int]:
    """(open fds, RSS in kB) of one process; (0, 0) once it is gone."""
    try:
        p = psutil.Process(pid)
        with p.oneshot():
            return p.num_fds(), p.memory_info().rss // 1024
    except psutil.Error:
        return 0, 0


def _watch(proc: subprocess.Popen[bytes]) -> tuple[int, int, float]:
    """Wait for `proc`, sampling its whole tree; the peak (processes, open fds, RSS in MB)."""
    peak_procs = peak_fds = peak_rss = 0
    while proc.poll() is None:
        tree = _tree(proc.pid) or [proc.pid]
        usage = [_usage(p) for p in tree]
        peak_procs = max(peak_procs, len(tree))
        peak_fds = max(peak_fds, sum(u[0] for u in usage))
        peak_rss = max(peak_rss, sum(u[1] for u in usage))
        time.sleep(SAMPLE_EVERY_S)
    return peak_procs, peak_fds, peak_rss / 1024


def _leftover_processes() -> list[str]:
    """Our children still alive after the run (orphans of the suite); each reported, then killed."""
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while True:
        _reap_zombies()
        alive = [c.pid for c in psutil.Process().children() if _status(c) not in ("", psutil.STATUS_ZOMBIE)]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    lines = []
    for pid in alive:
        ports = _listening_ports(set(_tree(pid)))
        lines.append(f"process {_cmdline(pid)} (pid {pid}) outlived the run"
                     + (f", listening on {', '.join(ports)}" if ports else ""))
        ticks = process_start_ticks(pid)
        if ticks is not None:
            kill_group(pid, ticks, signal.SIGKILL)
    time.sleep(0.05)
    _reap_zombies()
    return lines


def _reap_zombies() -> None:
    """Collect the exit status of orphans that died (only the soak's own popen is ever waited on elsewhere)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _status(p: psutil.Process) -> str:
    """The process's state (psutil.STATUS_*), '' once it is gone."""
    try:
        return p.status()
    except psutil.Error:
        return ""


def _cmdline(pid: int) -> str:
    try:
        return " ".join(psutil.Process(pid).cmdline()).strip()[:120]
    except psutil.Error:
        return "?"


def _listening_ports(pids: set[int]) -> list[str]:
    """host:port of every listening TCP socket held open by one of `pids`."""
    ports = []
    for pid in sorted(pids):
        try:
            conns = psutil.Process(pid).net_connections(kind="tcp")
        except psutil.Error:
            continue
        ports += [f"{c.laddr.ip}:{c.laddr.port}" for c in conns if c.status == psutil.CONN_LISTEN]
    return ports


def listening_sockets() -> list[tuple[str, str]]:
    """(host:port, socket inode) of every listening TCP socket on the machine (IPv4 and IPv6)."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] != "0A":  # TCP_LISTEN
                continue
            host_hex, port_hex = cols[1].split(":")
            out.append((f"{_host(host_hex)}:{int(port_hex, 16)}", cols[9]))
    return out


def _host(hex_addr: str) -> str:
    """The dotted (IPv4) or hex (IPv6) form of a /proc/net/tcp address."""
    if len(hex_addr) == 8:
        return ".".join(str(b) for b in reversed(bytes.fromhex(hex_addr)))
    return hex_addr


def _stale_state_files(state_dir: Path) -> list[str]:
    """State files of runs whose runner died without closing them (what the next run would reap)."""
    lines = []
    for path in sorted((state_dir / "runs").glob("*/state.json")):
        try:
            rec = RunRecord.load(path)
        except (OSError, ValueError, KeyError, TypeError):
            lines.append(f"unreadable state file {path}")
            continue
        if not rec.detached and not rec.owner_alive:
            lines.append(f"state file {path} of run {rec.run_id} (runner pid {rec.owner_pid} is gone)")
    return lines


def _compose_projects() -> set[str] | None:
    """Names of cascade-* compose projects with a container on the engine, or None with no engine."""
    from ..runtime.compose import cascade_projects

    try:
        return cascade_projects()
    except (ProvisionError, ImportError):  # no engine, or no docker SDK: nothing to check
        return None
