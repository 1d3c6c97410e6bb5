"""The compose runtime: the user's own compose file, plus a generated override that puts Toxiproxy on every edge.

    docker compose -p cascade-<run> -f <user compose file> -f <run dir>/compose.override.yaml up -d
        override: + a `toxiproxy` service (API and one listener per edge, published on 127.0.0.1*)
                  + an `envoy` service, the HTTP fault engine, when the topology has HTTP edges
                    (unless CASCADE_HTTP_ENGINE=off): one listener per HTTP edge, its bootstrap and
                    routes from <run dir>/envoy mounted read-only**, its admin API on 127.0.0.1*
                  + per topology service: each edge's env var -> toxiproxy:<that edge's port>,
                    CASCADE_MODE / CASCADE_BRITTLE / CASCADE_CONFIG_TOKEN, its port published
                    on 127.0.0.1* (ephemeral), depends_on toxiproxy, restart "no"
    ─> Toxiproxy's API answers, and Envoy serves every edge's at-rest routes (both awaited at once)
    ─> one /populate call: each proxy listens 0.0.0.0:<port> in the toxiproxy container and
       forwards to <compose_service>:<container_port>, or for an HTTP edge to envoy:<its listener>,
       which forwards to the callee by name
    ─> wait for every service's health in parallel (the topology's check on the published port;
       the Docker health check where the topology says "tcp") ─> up

    * with DOCKER_HOST=tcp://docker:2375 (a remote engine), ports are published on 0.0.0.0 of that
      engine's host and reached at `docker` (or CASCADE_DOCKER_ADDRESS): docker_host.py
   ** a remote engine's containers see no host folder: Envoy's bootstrap and routes are a volume of
      its container instead, filled through the Docker API before it starts (`up --no-start`),
      every later routes file moved into place there with `docker exec mv` (compose_files.py)

The user's file is never edited. Works with `docker compose` (v2) and `docker-compose` (v1.29),
detected, or forced with CASCADE_COMPOSE=v1|v2. Process faults go through the Docker SDK
(kill = SIGKILL to the container, pause = cgroup freezer). The project is recorded in the
run-state file so a later run can `down` it if this runner died (`reap_compose_project`, registered
as the run-state reaper of kind "compose"). It is a `Runtime` (base.py), registered as "compose";
what it runs is planned, purely, in `compose_plan.py`. Docker is imported only when one is used.
"""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import shlex
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from signal import Signals
from typing import Any, Callable

from ..errors import HarnessError, MeshCrashed, MeshError, MeshNotReady, ProvisionError, UsageError
from ..modes import Mode
from ..paths import state_dir as default_state_dir
from ..clients.probe import http_request, tcp_open
from .runstate import RunRecord, register_reaper
from ..topology import Topology
from ..clients.toxiproxy import ToxiproxyClient
from .compose_plan import (
    ENVOY_ADMIN_PORT,
    ENVOY_DIR,
    ENVOY_IMAGE,
    ENVOY_SERVICE,
    FIRST_PROXY_PORT,
    HOST,
    TOXIPROXY_API_PORT,
    TOXIPROXY_IMAGE,
    TOXIPROXY_SERVICE,
    build_override,
    compose_command,
    compose_version,
    engine_listeners,
    engine_ports,
    override_header,
    proxy_specs,
)
from .base import BaseRuntime, register_runtime, toxiproxy_answers
from .compose_files import copy_tree, replace_file
from .docker_host import DockerHost, docker_host_from_env, remote_problems
from .health import health_error, wait_until_healthy

__all__ = ["ComposeRuntime", "cascade_projects", "make_compose_runtime", "reap_compose_project"]

STOP_GRACE_S = 2
PAUSE_ATTEMPTS = 5
ENV_OVERRIDE = "config-env.override.yaml"  # env config sources' values, a third compose file
# Containers start slower than local processes (namespaces, a loaded engine): never wait less.
MIN_START_TIMEOUT_S = 30.0
COMPOSE_TIMEOUT_S = 180.0
_PROJECT_LABEL = "com.docker.compose.project"
_SERVICE_LABEL = "com.docker.compose.service"
_LOG_LOCK = threading.Lock()  # two compose commands may finish at once; their log entries must not interleave
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "busybox"})
log = logging.getLogger("cascade")


# -- compose, v1 or v2 ------------------------------------------------------------------------


def _run_compose(argv: list[str], *, log: Path | None = None, timeout_s: float = COMPOSE_TIMEOUT_S,
                 env: dict[str, str] | None = None) -> str:
    """Run one compose command (in `env`, default this process's); its stdout, or ProvisionError with what it said."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, stdin=subprocess.DEVNULL,
                              env=env)
    except subprocess.TimeoutExpired:
        raise ProvisionError(f"`{shlex.join(argv)}` took over {timeout_s:.0f} s; is the Docker engine healthy?") from None
    except OSError as exc:
        raise ProvisionError(f"could not run `{shlex.join(argv)}`: {exc}") from None
    if log is not None:
        with _LOG_LOCK, open(log, "a") as f:
            f.write(f"$ {shlex.join(argv)}\n{done.stdout}{done.stderr}[exit {done.returncode}]\n")
    if done.returncode != 0:
        tail = "\n    ".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise ProvisionError(f"`{shlex.join(argv)}` failed with exit {done.returncode}:\n    {tail}")
    return done.stdout


def _docker_env(docker_host: str | None) -> dict[str, str]:
    """This process's environment with DOCKER_HOST set to `docker_host` ('' removes it: the local socket; None: as is)."""
    env = dict(os.environ)
    if docker_host is not None:
        env.pop("DOCKER_HOST", None)
        if docker_host:
            env["DOCKER_HOST"] = docker_host
    return env


def _docker_client(docker_host: str | None = None) -> Any:
    """A client of the engine DOCKER_HOST names (or `docker_host`, as _docker_env), pinged; ProvisionError if none answers."""
    import docker  # imported here: the local runtime and the unit tests never need it

    env = _docker_env(docker_host)
    try:
        client = docker.from_env(timeout=30, environment=env)
        client.ping()
    except Exception as exc:  # noqa: BLE001 -- any failure means "no engine"; the message says which
        where = f"at DOCKER_HOST={env['DOCKER_HOST']}" if env.get("DOCKER_HOST") else "on the local socket"
        raise ProvisionError(f"no Docker engine answers {where} ({exc}); start one with docker/engine.sh, "
                             "or point DOCKER_HOST at one that runs") from None
    return client


# -- the run-state reaper ----------------------------------------------------------------------


def cascade_projects() -> set[str]:
    """Names of the compose projects this harness started (cascade-*) that still have a container."""
    client = _docker_client()
    labels = (c.labels.get(_PROJECT_LABEL, "") for c in client.containers.list(all=True, filters={"label": [_PROJECT_LABEL]}))
    return {p for p in labels if p.startswith("cascade-")}


def reap_compose_project(resource: dict[str, Any]) -> str | None:
    """`down -v --remove-orphans` the compose project a dead runner left; what was removed, or None.

    On the engine the run used (its recorded DOCKER_HOST, whatever this process's is), through the
    Docker API and compose only. Raises ProvisionError when no engine answers: the project may
    still exist, so its record must be kept (and the failure shown), not forgotten.
    """
    project = str(resource.get("project", ""))
    if not project.startswith("cascade-"):
        return None  # never touch a project this harness did not name
    recorded = resource.get("docker_host")  # None: a record older than remote engines, made on this env's engine
    docker_host = None if recorded is None else str(recorded)
    client = _docker_client(docker_host)
    label = {"label": [f"{_PROJECT_LABEL}={project}"]}
    if not client.containers.list(all=True, filters=label) and not client.networks.list(filters=label):
        return None
    files = [str(f) for f in resource.get("files", [])]
    command = list(resource.get("command") or ())
    if command and files and all(Path(f).is_file() for f in files):
        argv = [*command, "--ansi", "never", "-p", project, *(a for f in files for a in ("-f", f)),
                "down", "-v", "--remove-orphans", "-t", "0"]
        try:
            _run_compose(argv, env=_docker_env(docker_host))
            return f"removed compose project {project}" + (f" on {docker_host}" if docker_host else "")
        except ProvisionError:
            pass  # fall through to removing by label
    _remove_by_label(client, project)
    return f"removed compose project {project} (by label)" + (f" on {docker_host}" if docker_host else "")


# Every run reaps what any dead run left, so a local run also cleans up after a dead compose run.
register_reaper("compose", reap_compose_project)


def _remove_by_label(client: Any, project: str) -> None:
    label = {"label": [f"{_PROJECT_LABEL}={project}"]}
    for c in client.containers.list(all=True, filters=label):
        c.remove(force=True, v=True)
    for n in client.networks.list(filters=label):
        n.remove()
    for v in client.volumes.list(filters=label):
        v.remove(force=True)


# -- the runtime -----------------------------------------------------------------------------------


class ComposeRuntime(BaseRuntime):
    """Runs a topology's services with Docker Compose from the user's compose file, every edge through Toxiproxy."""

    name = "compose"

    def __init__(
        self,
        topology: Topology,
        mode: Mode,
        *,
        compose_file: Path,
        state_dir: Path | None = None,
        detached: bool = False,
        log: Callable[[str], None] | None = None,
        toxiproxy_image: str | None = None,
        publish_proxies: bool = True,
        compose: str | None = None,
        envoy_image: str | None = None,
    ) -> None:
        self.topology = topology
        self.mode = mode
        # Where the engine is (DOCKER_HOST) and where its published ports are reached: checked now,
        # before anything starts, as is what a remote engine cannot do.
        self.docker_host: DockerHost = docker_host_from_env()
        self.host = self.docker_host.address
        if self.docker_host.remote:
            problems = remote_problems(topology)
            if problems:
                raise UsageError(f"the Docker engine at DOCKER_HOST={self.docker_host.url} is remote: "
                                 + "; ".join(problems))
        self.compose_file = Path(compose_file).resolve()
        self.state_dir = state_dir or default_state_dir()
        self.detached = detached
        self.toxiproxy_image = toxiproxy_image or os.environ.get("CASCADE_TOXIPROXY_IMAGE", TOXIPROXY_IMAGE)
        self.envoy_image = envoy_image or os.environ.get("CASCADE_ENVOY_IMAGE", ENVOY_IMAGE)
        self.publish_proxies = publish_proxies
        self._compose_choice = compose  # "v1" or "v2"; None: $CASCADE_COMPOSE, else detected
        self._log = log or (lambda _line: None)
        self.secret = secrets.token_urlsafe(24)
        self.reaped: list[str] = []
        self.record: RunRecord | None = None
        self.project = ""  # cascade-<run id>, kept after stop() so callers can check what is left
        self._live = False  # a project may exist on the engine: stop() must `down` it
        self.command: tuple[str, ...] = ()
        self.override: Path | None = None
        self.ports: dict[str, int] = {}
        self.toxiproxy_port = 0
        # Edge -> port inside the toxiproxy container, fixed by the topology alone.
        self.container_proxy_ports = {e: FIRST_PROXY_PORT + i for i, e in enumerate(sorted(topology.edges))}
        self.proxy_ports: dict[str, int] = {}
        # Edge -> port of its Envoy listener inside the envoy container (the HTTP edges; fixed at start).
        self.engine_ports: dict[str, int] = {}
        self.engine_admin_port = 0  # Envoy's admin API published on `host` (0 without the engine)
        self._engine: Any = None  # the EnvoyEngine being started; `engine` once it serves every edge
        self._docker: Any = None
        self._ids: dict[str, str] = {}  # compose service -> container id (stable across restarts)
        # Environment given by env config sources: service -> var -> value (None: unset), applied by
        # recreating the container from a third compose file (config-env.override.yaml) at its restart.
        self._env: dict[str, dict[str, str | None]] = {}
        self._env_stale: set[str] = set()  # services whose container predates a change of _env
        self._killed: set[str] = set()
        self._lock = threading.Lock()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def toxiproxy_url(self) -> str:
        return f"http://{self.host}:{self.toxiproxy_port}"

    def address(self, service: str) -> tuple[str, int]:
        """Where `service` is published, on `host` (not through a proxy); changes when it restarts."""
        return self.host, self.ports[self.topology.service(service).name]

    def logs(self, service: str, lines: int = 30) -> list[str]:
        """The last `lines` lines of the container's log (stdout and stderr), [] if it has none."""
        try:
            raw = self.container(service).logs(tail=lines)
        except Exception:  # noqa: BLE001 -- evidence is best effort: a missing container has no log
            return []
        return raw.decode(errors="replace").splitlines()[-lines:]

    # -- lifecycle -----------------------------------------------------------------------------

    def _before_start(self) -> None:
        if not self.compose_file.is_file():
            raise UsageError(f"compose file {str(self.compose_file)!r} does not exist")
        env = dict(os.environ)
        if self._compose_choice is not None:
            env["CASCADE_COMPOSE"] = self._compose_choice
        self.command = compose_command(env)
        self._docker = _docker_client(self.docker_host.url)

    def _start(self) -> ToxiproxyClient:
        topo = self.topology
        self.record = RunRecord.create(self.state_dir, detached=self.detached)
        self.project = f"cascade-{self.record.run_id}"
        self.override = self.record.dir / "compose.override.yaml"
        self.engine_ports = engine_ports(topo)
        engine_dir, engine_command = self._prepare_engine()
        remote, bind = self.docker_host.remote, self.docker_host.bind
        # JSON is YAML, so both compose versions read it and no YAML library is needed; the comment
        # at its top says exactly what it changes in the user's file.
        self.override.write_text(override_header(topo, self.compose_file, engine=self.engine_ports, bind=bind,
                                                 engine_in_volume=remote) + json.dumps(
            build_override(topo, self.mode, self.secret, self.container_proxy_ports,
                           toxiproxy_image=self.toxiproxy_image, publish_proxies=self.publish_proxies,
                           engine=self.engine_ports, engine_dir=None if remote else engine_dir,
                           engine_command=engine_command, envoy_image=self.envoy_image, bind=bind,
                           engine_in_volume=remote), indent=1))
        # The engine it ran on is recorded, so a later run reaps it there whatever its own DOCKER_HOST.
        self.record.add_resource(kind="compose", project=self.project, command=list(self.command),
                                 files=[str(self.compose_file), str(self.override)], docker_host=self.docker_host.url)
        self._live = True
        self._log(f"run {self.record.run_id}: compose project {self.project}, override {self.override}"
                  + (f"; {self.docker_host.describe()}" if self.docker_host.url else ""))

        with ThreadPoolExecutor(max_workers=2) as pool:  # two independent checks, each a compose start-up
            declared = pool.submit(self._compose, "config", "--services", files=[self.compose_file])
            merged = pool.submit(self._compose, "config")
            self._check_services(declared.result().split())
            self._check_images(merged.result())

        up = ["up", "-d", "--no-build", "--remove-orphans"]
        if len(self.command) == 2:
            up += ["--pull", "never"]  # v2 only; _check_images already made sure nothing is pulled
        if remote and engine_dir is not None:
            # Envoy reads its bootstrap and routes at start: into its volume before it runs.
            self._compose(*[a for a in up if a != "-d"], "--no-start")
            copy_tree(self.container(ENVOY_SERVICE), engine_dir, ENVOY_DIR)
            assert self._engine is not None
            self._engine.publish = self._publish_engine_file
        self._compose(*up)
        self._read_ports()
        if remote:
            self._warn_host_mounts()

        client = ToxiproxyClient(self.toxiproxy_url)
        with ThreadPoolExecutor(max_workers=2) as pool:  # Envoy must serve before any proxy forwards to it
            waits = [pool.submit(self._wait, TOXIPROXY_SERVICE,
                                 lambda: "" if toxiproxy_answers(client) else "API not answering", MIN_START_TIMEOUT_S)]
            if self._engine is not None:
                waits.append(pool.submit(self._await_engine))
            for w in waits:
                w.result()
        client.populate(proxy_specs(topo, self.container_proxy_ports, engine=self.engine_ports))
        names = sorted(topo.services)
        with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
            errors = [f.exception() for f in [pool.submit(self.wait_healthy, n) for n in names]]
        failed = [e for e in errors if e is not None]
        if failed:
            raise failed[0]
        return client

    def stop(self) -> None:
        """`down -v --remove-orphans -t 2`: containers, network and volumes of this project are gone."""
        try:
            if self._live:
                try:
                    self._stop_all_at_once()
                    self._compose("down", "-v", "--remove-orphans", "-t", str(STOP_GRACE_S))
                except ProvisionError as exc:
                    self._log(f"compose down failed, removing project {self.project} by label: {exc}")
                    _remove_by_label(self._docker or _docker_client(self.docker_host.url), self.project)
        finally:
            self.engine = self._engine = None
            if self.record is not None:
                self.record.close()
            if self._docker is not None:
                self._docker.close()
                self._docker = None
            self._live = False

    # -- the HTTP fault engine ---------------------------------------------------------------------

    def _prepare_engine(self) -> tuple[Path | None, list[str]]:
        """The engine's host directory (bootstrap, at-rest routes) and Envoy's command; (None, []) without HTTP edges.

        The engine writes routes into <run dir>/envoy on the host; the envoy container sees that
        directory, read-only, at ENVOY_DIR, and its bootstrap names those paths. The container
        runs as nobody: the directories and every file the engine writes are world-readable,
        whatever the umask.
        """
        if not self.engine_ports:
            return None, []
        from ..clients.envoy import EnvoyEngine

        assert self.record is not None
        workdir = self.record.dir / "envoy"
        self._engine = EnvoyEngine(engine_listeners(self.topology, self.engine_ports), admin_port=ENVOY_ADMIN_PORT,
                                   workdir=workdir, served_workdir=Path(ENVOY_DIR),
                                   listen_host="0.0.0.0", admin_host="0.0.0.0", file_mode=0o644)
        return workdir, self._engine.prepare(envoy="/usr/local/bin/envoy")

    def _warn_host_mounts(self) -> None:
        """Name each bind mount of the user's services: on a remote engine it shows that host's folder, not ours."""
        for name, c in sorted(self._containers().items()):
            for m in c.attrs.get("Mounts") or []:
                if m.get("Type") == "bind":
                    said = (f"{name} bind-mounts {m.get('Source')} at {m.get('Destination')}: on the remote engine "
                            f"at {self.docker_host.url} that is a folder of the engine's host, not of this machine")
                    self._log(said)
                    log.warning(said)

    def _publish_engine_file(self, relative: str, data: bytes) -> None:
        """A routes file the engine wrote on the host, moved into place in the envoy container (a remote engine)."""
        replace_file(self.container(ENVOY_SERVICE), f"{ENVOY_DIR}/{relative}", data)

    def _await_engine(self) -> None:
        """Until Envoy answers on its published admin port and serves every edge's at-rest routes; then `engine`."""
        engine = self._engine

        def ready() -> str:
            if not self.engine_admin_port:  # an exited container publishes nothing: _wait names the exit
                return f"admin port {ENVOY_ADMIN_PORT} not published on {self.docker_host.bind}"
            r = http_request(self.host, self.engine_admin_port, "GET", "/ready", timeout_s=0.5)
            return "" if r.status == 200 else (r.error or f"HTTP {r.status} from /ready")

        self._wait(ENVOY_SERVICE, ready, MIN_START_TIMEOUT_S)
        try:
            engine.await_ready(timeout_s=MIN_START_TIMEOUT_S)  # every edge's routes, read back from /config_dump
        except HarnessError as exc:
            raise MeshNotReady(f"{ENVOY_SERVICE} answers but does not serve the at-rest routes: {exc}"
                               + self._evidence(ENVOY_SERVICE)) from None
        self.engine = engine

    def _stop_all_at_once(self) -> None:
        """SIGTERM every container at once (SIGKILL after the grace period).

        `down` stops containers level by level in reverse dependency order, about 0.5 s a level;
        stopped in parallel first, the whole mesh takes one grace period at most, and `down`
        then only removes. Best effort: `down` stops whatever this missed.
        """
        if self._docker is None:
            return
        try:
            containers = list(self._containers().values())
        except Exception:  # noqa: BLE001 -- `down` follows and does the job anyway
            return

        def stop(c: Any) -> None:
            try:
                c.stop(timeout=STOP_GRACE_S)
            except Exception:  # noqa: BLE001 -- already gone or stopping: `down` handles it
                pass

        with ThreadPoolExecutor(max_workers=max(1, len(containers))) as pool:
            list(pool.map(stop, containers))

    # -- process faults ----------------------------------------------------------------------------

    def pid(self, service: str) -> int | None:
        """None: a container's processes are the engine's, not this runner's to signal."""
        return None

    def is_running(self, service: str) -> bool:
        """True while the container runs (a paused one still runs, like a stopped local process)."""
        return self._state(service).get("Status") in ("running", "paused")

    def is_paused(self, service: str) -> bool:
        return self._state(service).get("Status") == "paused"

    def kill(self, service: str) -> None:
        """SIGKILL the container (restart policy "no": it stays down until restarted)."""
        c = self.container(service)
        with self._lock:
            self._killed.add(service)
        if self.is_paused(service):
            c.unpause()  # a frozen cgroup cannot take the signal
        c.kill(signal="SIGKILL")
        c.wait(timeout=10)

    def pause(self, service: str) -> None:
        """Freeze the container's processes (cgroup freezer), retried if the freezer gives up."""
        from docker.errors import APIError

        c = self.container(service)
        for attempt in range(PAUSE_ATTEMPTS):
            try:
                c.pause()
                return
            except APIError as exc:
                # runc gives up ("unable to freeze") when a task will not freeze in time, as on a
                # saturated machine; it thaws the container again, so trying again is safe.
                if "unable to freeze" not in str(exc) or attempt == PAUSE_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))

    def resume(self, service: str) -> None:
        self.container(service).unpause()

    def signal(self, service: str, signum: int) -> None:
        """Send `signum` to the container's main process (docker kill --signal), as a reload signal."""
        c = self.container(service)
        if not self.is_running(service):
            raise MeshError(f"{service}'s container is not running; there is no process to send signal {signum} to")
        main = _main_process(c)
        if main and os.path.basename(main[0]) in _SHELLS:
            # `sh -c "... && your-service"` without `exec`: as PID 1 the shell ignores a signal it does
            # not trap, so the service never sees it, and a reload waits in vain.
            said = (f"{service}'s main process is a shell ({' '.join(main)[:160]}): {Signals(signum).name} reaches "
                    "the shell, not your service, and is ignored unless the shell traps it; end the command with "
                    "`exec <your service>` so that it is the main process")
            self._log(said)
            log.warning(said)
        c.kill(signal=int(signum))

    def env_value(self, service: str, var: str) -> str | None:
        """The value `service` gets for `var`: one an env source set, else what its container runs with."""
        given = self._env.get(service, {})
        if var in given:
            return given[var]
        for item in self.container(service).attrs.get("Config", {}).get("Env") or []:
            name, _, value = item.partition("=")
            if name == var:
                return value
        return None

    def set_env(self, service: str, var: str, value: str | None) -> None:
        """Give `service` `var` = `value` (None: unset) from its next restart on, which recreates its container."""
        with self._lock:
            self._env.setdefault(service, {})[var] = value
            self._env_stale.add(service)
        assert self.record is not None
        env_file = self.record.dir / ENV_OVERRIDE
        compose_name = {n: self.topology.service(n).compose_service for n in self._env}
        env_file.write_text(json.dumps({"services": {compose_name[n]: {"environment": {
            k: v for k, v in vars_.items()}} for n, vars_ in sorted(self._env.items())}}, indent=1))

    def _compose_files(self) -> list[Path]:
        assert self.override is not None and self.record is not None
        env_file = self.record.dir / ENV_OVERRIDE
        return [self.compose_file, self.override, *([env_file] if self._env else [])]

    def restart(self, service: str, *, ready: bool = True) -> None:
        """Restart the container (start it if it is down), read its new published port; wait until healthy, or answering.

        ready=False (a process fault) waits only until an HTTP service answers its health check
        at all, as the local runtime does; a TCP service is still judged by its health check.
        """
        c = self.container(service)
        if self.is_paused(service):
            c.unpause()
        if service in self._env_stale:  # an env source changed its environment: a new container
            compose_service = self.topology.service(service).compose_service
            self._compose("up", "-d", "--no-build", "--no-deps", "--force-recreate", "-t", str(STOP_GRACE_S),
                          compose_service)
            with self._lock:
                self._env_stale.discard(service)
                self._ids.pop(compose_service, None)
        elif self.is_running(service):
            c.restart(timeout=STOP_GRACE_S)
        else:
            c.start()
        with self._lock:
            self._killed.discard(service)
        self._read_ports()
        self.wait_healthy(service, answered=not ready)

    # heal_processes: BaseRuntime's, through these hooks.

    def _check_toxiproxy(self) -> None:
        """Toxiproxy's container runs, and Envoy's when the mesh has the engine (MeshCrashed with its log if not)."""
        for name in [TOXIPROXY_SERVICE, *([ENVOY_SERVICE] if self.engine is not None else [])]:
            state = self._state(name)
            if state.get("Status") != "running":
                raise MeshCrashed(f"the {name} container is {state.get('Status', 'gone')} (exit code "
                                  f"{state.get('ExitCode', '?')})" + _tail(self.logs(name, 12)))

    def _exit_reason(self, service: str) -> str:
        if service in self._killed:
            return "killed by a fault"
        return (f"exited on its own with code {self._state(service).get('ExitCode', '?')}; "
                f"its log: docker logs {self.container(service).name}")

    # -- health ------------------------------------------------------------------------------------

    def wait_healthy(self, service: str, *, answered: bool = False) -> None:
        """Wait until `service` passes the topology's health check (or Docker's, for a TCP service).

        `answered`: an HTTP service need only answer its health check at all (a TCP service is
        still judged by its health check).
        """
        svc = self.topology.service(service)
        self._wait(service, lambda: self._health_error(service, answered=answered),
                   max(svc.start_timeout_s, MIN_START_TIMEOUT_S),
                   state="answered" if answered and svc.http else "became healthy")

    def _health_error(self, service: str, *, answered: bool = False) -> str:
        """'' if `service` passes its health check now (`answered`: an HTTP one answers it), else what went wrong."""
        svc = self.topology.service(service)
        if svc.http:
            return health_error(svc, *self.address(service), answered=answered)
        # A published port accepts connections even when nothing listens behind it (docker-proxy),
        # so a TCP service is judged by its Docker health check when it has one.
        health = self._state(service).get("Health")
        if health:
            return "" if health.get("Status") == "healthy" else f"Docker health is {health.get('Status')}"
        return tcp_open(*self.address(service))

    def _wait(self, name: str, check: Callable[[], str], timeout_s: float, state: str = "became healthy") -> None:
        next_state = [0.0]

        def died() -> None:
            now = time.monotonic()
            if now < next_state[0]:  # the engine is asked less often than the port is probed
                return
            next_state[0] = now + 0.25
            state = self._state(name)
            if not state:
                raise MeshNotReady(f"{name} has no container in compose project {self.project}; "
                                   f"`up` did not create it (see {self._compose_log()})")
            if state.get("Status") in ("exited", "dead"):
                raise MeshNotReady(
                    f"{name} exited with code {state.get('ExitCode', '?')} while starting "
                    f"({state.get('Error') or 'no engine error'})" + self._evidence(name))

        wait_until_healthy(name, check, timeout_s=timeout_s, died=died, interval_s=0.05, state=state,
                           where=f"{self.host}:{self.ports.get(name, '?')}", evidence=lambda: self._evidence(name))

    def _evidence(self, name: str) -> str:
        """Docker's last health output and the container's log tail, for an error message."""
        health = self._state(name).get("Health") or {}
        out = ""
        if health.get("Log"):
            out = (f"; Docker health: {health.get('Status', '?')}, last check said "
                   f"{health['Log'][-1].get('Output', '').strip()[:300]!r}")
        try:
            cname = self.container(name).name
        except MeshNotReady:
            return out + f"; no container for {name} in project {self.project}"
        return out + f"; its log (docker logs {cname}):" + _tail(self.logs(name, 12))

    # -- internals -----------------------------------------------------------------------------------

    def _compose_log(self) -> Path | None:
        return self.record.log_dir / "compose.log" if self.record is not None else None

    def _compose(self, *args: str, files: list[Path] | None = None) -> str:
        assert self.override is not None and self.record is not None
        files = files if files is not None else self._compose_files()
        argv = [*self.command, "--ansi", "never", "-p", self.project, *(a for f in files for a in ("-f", str(f))), *args]
        return _run_compose(argv, log=self._compose_log(), env=_docker_env(self.docker_host.url))

    def _check_services(self, declared: list[str]) -> None:
        if self.engine_ports and ENVOY_SERVICE in declared:
            raise UsageError(
                f"{self.compose_file} declares a service {ENVOY_SERVICE!r}, and the compose runtime adds its own "
                f"{ENVOY_SERVICE!r} (the HTTP fault engine); rename yours, or run without the engine "
                "(CASCADE_HTTP_ENGINE=off: no HTTP faults)"
            )
        missing = sorted({s.compose_service for s in self.topology.services.values()} - set(declared))
        if missing:
            raise UsageError(
                f"{self.compose_file} declares no service {', '.join(map(repr, missing))} that the topology "
                f"runs; it declares: {', '.join(sorted(declared)) or '(none)'}. Set services.<name>.compose_service "
                "in the topology to the compose service's name"
            )

    def _check_images(self, merged_config: str) -> None:
        """Every image must already be on this machine: the runtime never pulls (or builds)."""
        # The canonical `config` output of both versions puts each service's image at 4 spaces.
        images = sorted(set(re.findall(r"^    image: ['\"]?([^'\"\s]+)", merged_config, re.M)))
        from docker.errors import ImageNotFound

        missing = []
        for image in images:
            try:
                self._docker.images.get(image)
            except ImageNotFound:
                missing.append(image)
        if missing and self.docker_host.remote:
            raise ProvisionError(
                f"image {', '.join(missing)} is not on the Docker engine at DOCKER_HOST={self.docker_host.url} and the "
                "compose runtime never pulls; load it there (docker save IMAGE | docker --host "
                f"{self.docker_host.url} load), or build or pull it on that engine"
            )
        if missing:
            raise ProvisionError(
                f"image {', '.join(missing)} is not on this machine and the compose runtime never pulls; "
                "build the images with docker/build-images.sh (offline), or pull or build them yourself"
            )

    def _containers(self) -> dict[str, Any]:
        """This project's containers by compose service (inspected), remembering their ids."""
        found = self._docker.containers.list(all=True, filters={"label": [f"{_PROJECT_LABEL}={self.project}"]})
        by_service = {c.labels.get(_SERVICE_LABEL, ""): c for c in found}
        with self._lock:
            self._ids.update({name: c.id for name, c in by_service.items()})
        return by_service

    def container(self, service: str) -> Any:
        """The Docker SDK container of `service` (or "toxiproxy", "envoy"), freshly inspected."""
        from docker.errors import NotFound

        name = service if service in (TOXIPROXY_SERVICE, ENVOY_SERVICE) else self.topology.service(service).compose_service
        if self._docker is not None:
            if name not in self._ids and self.project:
                self._containers()
            if name in self._ids:
                try:
                    return self._docker.containers.get(self._ids[name])
                except NotFound:
                    pass
        raise MeshNotReady(f"no container for service {name!r} in compose project {self.project or '(none)'}")

    def _state(self, service: str) -> dict[str, Any]:
        try:
            c = self.container(service)
        except MeshNotReady:
            return {}
        return dict(c.attrs.get("State") or {})

    def _read_ports(self) -> None:
        """Read every published port back from the engine (they change when a container restarts)."""
        containers = self._containers()
        ports: dict[str, int] = {}
        bind = self.docker_host.bind
        for name, svc in self.topology.services.items():
            c = containers.get(svc.compose_service)
            port = _published(c, svc.container_port, bind) if c is not None else None
            if port is not None:
                ports[name] = port
        tp = containers.get(TOXIPROXY_SERVICE)
        ev = containers.get(ENVOY_SERVICE)
        with self._lock:
            self.ports.update(ports)
            if ev is not None and self._engine is not None:
                self.engine_admin_port = _published(ev, ENVOY_ADMIN_PORT, bind) or self.engine_admin_port
                self._engine.admin_url = f"http://{self.host}:{self.engine_admin_port}"
            if tp is not None:
                self.toxiproxy_port = _published(tp, TOXIPROXY_API_PORT, bind) or self.toxiproxy_port
                if self.publish_proxies:
                    self.proxy_ports = {e: p for e, cp in self.container_proxy_ports.items()
                                        if (p := _published(tp, cp, bind)) is not None}


def _header() -> str:
    """Which compose ran the suite, and on which engine when DOCKER_HOST names one (it belongs in the suite's log)."""
    from ..errors import HarnessError

    try:
        words = f"compose={compose_version(compose_command())}"
    except HarnessError as exc:
        return f"compose=none ({str(exc).splitlines()[0]})"
    try:
        where = docker_host_from_env()
    except HarnessError as exc:
        return f"{words}, {exc}"
    return f"{words}, docker_host={where.url}, ports on {where.address}" if where.url else words


@register_runtime("compose", parallel_meshes=True, header=_header)  # a project per mesh (cascade-<run id>), ephemeral ports
def make_compose_runtime(topology: Topology, mode: Mode, **kw: Any) -> ComposeRuntime:
    """A ComposeRuntime on the topology's compose file; UsageError if the topology names none."""
    if topology.compose_file is None:
        raise UsageError(
            f"the compose runtime needs the topology's compose file: add compose_file = \"path/to/compose.yaml\" "
            f"under [mesh] in the topology of {topology.name!r}"
        )
    return ComposeRuntime(topology, mode, compose_file=topology.compose_file, **kw)


def _main_process(container: Any) -> list[str]:
    """The command line of the container's main process (its PID 1) as the engine sees it now; [] if it cannot say."""
    main = str((container.attrs.get("State") or {}).get("Pid", ""))
    try:
        top = container.top(ps_args="-o pid,args")
    except Exception:  # noqa: BLE001 -- only a warning depends on it
        return []
    for row in top.get("Processes") or []:
        if row and str(row[0]).strip() == main:
            return " ".join(row[1:]).split()
    return []


def _published(container: Any, port: int, bind: str = HOST) -> int | None:
    """The host port `port` of `container` is published on at `bind` (the IP the override gave), None if it is not."""
    bindings = ((container.attrs.get("NetworkSettings") or {}).get("Ports") or {}).get(f"{port}/tcp") or []
    for b in bindings:
        if b.get("HostIp") in (bind, "") and b.get("HostPort"):
            return int(b["HostPort"])
    return None


def _tail(lines: list[str]) -> str:
    return ("\n  last lines:\n    " + "\n    ".join(lines)) if lines else " (empty)"
