"""The local runtime: the mesh as processes on 127.0.0.1, every edge through one toxiproxy-server.

    lease ports ─> spawn toxiproxy-server ─┬─> populate one proxy per edge (one call)
                                           └─> spawn every service at once, its dependency
                                               env vars pointing at the proxies
                 ─> wait for every health check in parallel (tenacity) ─> up

Every process leads its own process group, is recorded in the run-state file (so a later run
reaps it if this runner is SIGKILLed) and, unless the mesh is detached, gets SIGKILL from the
kernel the moment the runner dies (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import functools
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import psutil

from ..errors import MeshCrashed, MeshError, MeshNotReady
from ..modes import Mode
from ..paths import state_dir as default_state_dir
from .ports import PortLease, lease_ports
from .provision import ToxiproxyBinary, find_toxiproxy
from .runstate import RunRecord, kill_group
from ..topology import Service, Topology
from ..clients.toxiproxy import ProxySpec, ToxiproxyClient
from .base import BaseRuntime, engine_edges, register_runtime, toxiproxy_answers
from .health import health_error, wait_until_healthy

__all__ = ["LocalRuntime", "PLACEHOLDERS", "command_placeholders", "exited_while_starting", "not_started"]

HOST = "127.0.0.1"
# What `{name}` in a service's command becomes (command_placeholders; docs/topology.md lists them).
PLACEHOLDERS = ("python", "port", "host", "root", "data")
_PR_SET_PDEATHSIG = 1
STOP_GRACE_S = 2.0
CONTROL_TIMEOUT_S = 10.0


@dataclass
class _Proc:
    service: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen[bytes] | None = None
    ticks: int = 0
    paused: bool = False
    killed_by_fault: bool = False


def _die_with_parent(parent: int) -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the runner died before prctl took effect: no signal will ever come
        os._exit(1)


@register_runtime("local", parallel_meshes=True)  # every mesh on its own free ports
class LocalRuntime(BaseRuntime):
    """Runs a topology's services and one toxiproxy-server as local processes."""

    name = "local"

    def __init__(
        self,
        topology: Topology,
        mode: Mode,
        *,
        state_dir: Path | None = None,
        toxiproxy: ToxiproxyBinary | None = None,
        detached: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.topology = topology
        self.mode = mode
        self.host = HOST  # every process and proxy listens on loopback
        self.state_dir = state_dir or default_state_dir()
        self.detached = detached
        self._toxiproxy_bin = toxiproxy
        self._binary: ToxiproxyBinary | None = None  # the one start() uses, found before it spawns anything
        self._log = log or (lambda _line: None)
        self._procs: dict[str, _Proc] = {}
        self._lease: PortLease | None = None
        self.ports: dict[str, int] = {}
        self.proxy_ports: dict[str, int] = {}
        self.toxiproxy_port = 0
        self.record: RunRecord | None = None
        self.secret = secrets.token_urlsafe(24)
        self.reaped: list[str] = []
        # One long-lived thread does every spawn: PDEATHSIG fires when the *thread* that
        # forked the child exits, so a short-lived worker thread would kill its children.
        self._spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cascade-spawn")
        self._lock = threading.Lock()

    # -- addresses ---------------------------------------------------------

    @property
    def toxiproxy_url(self) -> str:
        return f"http://{HOST}:{self.toxiproxy_port}"

    def address(self, service: str) -> tuple[str, int]:
        """Where `service` itself listens (not through a proxy)."""
        return HOST, self.ports[self.topology.service(service).name]

    def log_path(self, service: str) -> Path:
        return self._procs[service].log

    def logs(self, service: str, lines: int = 30) -> list[str]:
        """The last `lines` lines of the service's log file ([] if it has none yet)."""
        try:
            return self.log_path(service).read_text(errors="replace").splitlines()[-lines:]
        except (OSError, KeyError):
            return []

    # -- lifecycle -----------------------------------------------------------

    def _before_start(self) -> None:
        self._binary = self._toxiproxy_bin or find_toxiproxy(log=self._log)

    def _start(self) -> ToxiproxyClient:
        topo, binary = self.topology, self._binary
        assert binary is not None, "_before_start found the toxiproxy-server binary"
        names = sorted(topo.services)
        edges = sorted(topo.edges)
        http_edges = engine_edges(topo)
        self._lease = lease_ports(1 + len(names) + len(edges) + len(http_edges) + 1, self.state_dir / "ports")
        it = iter(self._lease.ports)
        self.toxiproxy_port = next(it)
        self.ports = {n: next(it) for n in names}
        self.proxy_ports = {e: next(it) for e in edges}
        self.engine_ports = {e: next(it) for e in http_edges}
        engine_admin = next(it)
        self.record = RunRecord.create(self.state_dir, detached=self.detached)
        self._log(f"run {self.record.run_id}: logs in {self.record.log_dir}")

        tp = _Proc("toxiproxy", [str(binary.server), "-host", HOST, "-port", str(self.toxiproxy_port)],
                   dict(os.environ), self.record.log_dir / "toxiproxy.log")
        self._procs["toxiproxy"] = tp
        self._spawn(tp)
        ep = None
        if http_edges:  # started beside Toxiproxy and the services, awaited before the proxies point at it
            from ..clients.envoy import EdgeListener, EnvoyEngine

            self.engine = EnvoyEngine([EdgeListener(e, self.engine_ports[e], (HOST, self.ports[topo.edges[e].callee]))
                                       for e in http_edges], admin_port=engine_admin,
                                      workdir=self.record.dir / "envoy")
            ep = _Proc("envoy", self.engine.prepare(), dict(os.environ), self.record.log_dir / "envoy.log")
            self._procs["envoy"] = ep  # in the run record: stopped with the mesh, reaped after a killed runner
            self._spawn(ep)
        for name in names:
            self._procs[name] = self._prepare(topo.services[name])
            self._spawn(self._procs[name])

        # Removing a bandwidth toxic waits for the chunk in flight to drain, which can take
        # seconds at low rates; a dead server still fails at once with connection refused.
        client = ToxiproxyClient(self.toxiproxy_url, timeout_s=CONTROL_TIMEOUT_S)
        self._wait_healthy("toxiproxy", lambda: "" if toxiproxy_answers(client) else "API not answering", 5.0)
        if ep is not None:
            self.engine.await_ready(lambda: ep.popen is not None and ep.popen.poll() is None, ep.log)
        client.populate([
            ProxySpec(name=e, listen=f"{HOST}:{self.proxy_ports[e]}",
                      upstream=f"{HOST}:{self.engine_ports.get(e) or self.ports[topo.edges[e].callee]}")
            for e in edges
        ])
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            futures = [pool.submit(self.wait_healthy, n) for n in names]
            errors = [f.exception() for f in futures]
        failed = [e for e in errors if e is not None]
        if failed:
            raise failed[0]
        return client

    def stop(self) -> None:
        """Stop every process (SIGTERM, then SIGKILL after a grace period) and release ports."""
        procs = [p for p in self._procs.values() if p.popen is not None]
        for p in procs:
            if p.paused:
                self._signal(p, signal.SIGCONT)
            self._signal(p, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_S
        for p in procs:
            assert p.popen is not None
            try:
                p.popen.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._signal(p, signal.SIGKILL)
                p.popen.wait()
            # The group may hold children of the service; make sure none outlive it.
            kill_group(p.popen.pid, p.ticks)
        self._procs.clear()
        self.engine = None
        self._spawner.shutdown(wait=True)
        if self.record is not None:
            self.record.close()
        if self._lease is not None:
            self._lease.release()

    # -- process faults ------------------------------------------------------

    def pid(self, service: str) -> int | None:
        """The pid of `service`'s process (it leads its process group) while it runs, else None."""
        p = self._procs[service].popen
        return p.pid if p is not None and p.poll() is None else None

    def is_running(self, service: str) -> bool:
        return self.pid(service) is not None

    def is_paused(self, service: str) -> bool:
        """Whether the service's process is stopped (SIGSTOP, or stopped by a tracer)."""
        pid = self.pid(service)
        if pid is None:
            return False
        try:
            return psutil.Process(pid).status() in (psutil.STATUS_STOPPED, psutil.STATUS_TRACING_STOP)
        except psutil.NoSuchProcess:
            return False  # it exited between the two looks: not paused

    def kill(self, service: str) -> None:
        p = self._procs[service]
        p.killed_by_fault = True
        self._signal(p, signal.SIGKILL)
        if p.popen is not None:
            p.popen.wait(timeout=5)
            assert self.record is not None
            self.record.drop_process(p.popen.pid)

    def pause(self, service: str) -> None:
        p = self._procs[service]
        self._signal(p, signal.SIGSTOP)
        p.paused = True

    def resume(self, service: str) -> None:
        p = self._procs[service]
        self._signal(p, signal.SIGCONT)
        p.paused = False

    def signal(self, service: str, signum: int) -> None:
        """Send `signum` to `service`'s own process (its main process, as `kill -HUP <pid>` would), not its group."""
        p = self._procs[service]
        if p.popen is None or p.popen.poll() is not None:
            raise MeshError(f"{service} is not running; there is no process to send signal {signum} to")
        os.kill(p.popen.pid, signum)

    def env_value(self, service: str, var: str) -> str | None:
        """The value `service`'s process gets (or will get at its next start) for `var`; None if unset."""
        return self._procs[service].env.get(var)

    def set_env(self, service: str, var: str, value: str | None) -> None:
        """Give `service` `var` = `value` (None: unset) from its next start on; restart it to apply."""
        env = self._procs[service].env
        if value is None:
            env.pop(var, None)
        else:
            env[var] = value

    def restart(self, service: str, *, ready: bool = True) -> None:
        """Stop `service` if it runs, start it again on the same port; wait until healthy, or (ready=False) answering.

        A process fault waits only for an answer: with another fault active, a service may be
        unable to finish starting (its start-up needs the faulted dependency), and that is the
        mesh's behaviour to judge, not a harness error.
        """
        p = self._procs[service]
        if self.is_running(service):
            self.kill(service)
        self._spawn(p)
        p.killed_by_fault = False
        self.wait_healthy(service, answered=not ready)

    # heal_processes: BaseRuntime's, through these three hooks.

    def _check_toxiproxy(self) -> None:
        p = self._procs["toxiproxy"]
        if not self.is_running("toxiproxy"):
            raise MeshCrashed(f"toxiproxy-server exited (code {p.popen.returncode if p.popen else '?'}); its log: {p.log}")

    def _needs_resume(self, service: str) -> bool:
        return self._procs[service].paused or (self.is_running(service) and self.is_paused(service))

    def _exit_reason(self, service: str) -> str:
        p = self._procs[service]
        return "killed by a fault" if p.killed_by_fault else f"exited on its own; its log: {p.log}"

    # -- internals -------------------------------------------------------------

    def _prepare(self, svc: Service) -> _Proc:
        topo = self.topology
        port = self.ports[svc.name]
        assert self.record is not None
        data = self.record.dir / "data" / svc.name  # survives a Kill of the service, like a volume
        data.mkdir(parents=True, exist_ok=True)
        subst = command_placeholders(port, topo.root, data)
        try:
            argv = [part.format(**subst) for part in svc.command]
        except (KeyError, IndexError, ValueError) as exc:
            raise MeshNotReady(
                f"services.{svc.name}.command: {list(svc.command)!r} has a placeholder the local runtime does not "
                f"fill ({exc}); it fills {', '.join('{' + n + '}' for n in PLACEHOLDERS)}; write {{{{ and }}}} for a literal brace"
            ) from None
        if not argv:
            raise MeshNotReady(f"{svc.name} has no local command in the topology; add services.{svc.name}.command")
        env = dict(os.environ)
        env.update(topo.env)
        env.update(svc.env)
        env.update(self.mode.env(topo.knobs_env))
        env.update({
            "HOST": HOST,
            svc.port_env: str(port),
            "CASCADE_SERVICE": svc.name,
            "CASCADE_CONFIG_TOKEN": self.secret,
            "CASCADE_DATA_DIR": str(data),  # survives a Kill of the service, like a volume
            "PYTHONUNBUFFERED": "1",
        })
        for edge in topo.edges_from(svc.name):
            env[edge.env] = edge.address(HOST, self.proxy_ports[edge.name])
        assert self.record is not None
        return _Proc(svc.name, argv, env, self.record.log_dir / f"{svc.name}.log")

    def _spawn(self, p: _Proc) -> None:
        def spawn() -> subprocess.Popen[bytes]:
            with open(p.log, "ab") as log:
                return subprocess.Popen(
                    p.argv, env=p.env, cwd=self.topology.root, stdin=subprocess.DEVNULL,
                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                    preexec_fn=None if self.detached else functools.partial(_die_with_parent, os.getpid()),
                )

        try:
            p.popen = self._spawner.submit(spawn).result()
        except OSError as exc:
            raise MeshNotReady(not_started(p.service, p.argv, exc, self.topology.root)) from None
        assert self.record is not None
        p.ticks = self.record.add_process(p.service, p.popen.pid).ticks
        p.paused = False

    def _signal(self, p: _Proc, sig: int) -> None:
        if p.popen is not None and p.popen.poll() is None:
            kill_group(p.popen.pid, p.ticks, sig)

    def wait_healthy(self, service: str, *, answered: bool = False) -> None:
        """Until `service` passes its health check (`answered`: answers it at all), within its start timeout."""
        self._wait_healthy(service, lambda: self._health_error(service, answered=answered),
                           self.topology.service(service).start_timeout_s,
                           state="answered" if answered else "became healthy")

    def _health_error(self, service: str, *, answered: bool = False) -> str:
        """'' if the service passes its health check now, else what went wrong."""
        return health_error(self.topology.service(service), *self.address(service), answered=answered)

    def _wait_healthy(self, name: str, check: Callable[[], str], timeout_s: float, state: str = "became healthy") -> None:
        p = self._procs[name]

        def died() -> None:
            if p.popen is not None and p.popen.poll() is not None:
                raise MeshNotReady(exited_while_starting(name, p.popen.returncode, p.log, _tail(p.log),
                                                         self.topology.root))

        wait_until_healthy(name, check, timeout_s=timeout_s, died=died, state=state,
                           where=f"127.0.0.1:{self.ports.get(name, self.toxiproxy_port)}",
                           evidence=lambda: f"; its log: {p.log}" + _tail(p.log))



def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return ("\n  last lines:\n    " + "\n    ".join(text)) if text else ""


def command_placeholders(port: int, root: Path, data: Path) -> dict[str, str]:
    """What each of PLACEHOLDERS becomes in a command of the service listening on `port` (pure)."""
    return {"python": sys.executable, "port": str(port), "host": HOST, "root": str(root), "data": str(data)}


# What a command naming a missing file leaves behind: the OS's ENOENT text, or python's "can't open file".
_MISSING_FILE = ("No such file or directory", "can't open file")


def _where_commands_run(root: Path) -> str:
    return (f"; commands run in the topology's folder {root} (relative paths are relative to it; "
            "{root} is that folder)")


def not_started(service: str, argv: list[str], exc: OSError, root: Path) -> str:
    """The error of a service whose command could not be executed at all (pure)."""
    hint = _where_commands_run(root) if isinstance(exc, FileNotFoundError) else ""
    return f"{service} could not be started: {' '.join(argv)}: {exc.strerror or exc}{hint}"


def exited_while_starting(service: str, code: int | None, log: Path, tail: str, root: Path) -> str:
    """The error of a service that exited before its health check passed, with its log's last lines (pure)."""
    hint = _where_commands_run(root) if any(m in tail for m in _MISSING_FILE) else ""
    return f"{service} exited with code {code} while starting{hint}; its log: {log}{tail}"
