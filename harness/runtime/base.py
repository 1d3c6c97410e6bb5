"""The runtime extension point: the `Runtime` protocol, the behaviour the runtimes share, and the registry by name.

    make_runtime("compose", topology, mode, state_dir=...)
        └─> RUNTIMES["compose"](topology, mode, ...)   a factory a runtime module registered with
                                                       @register_runtime("compose") when imported

A new runtime is one module beside this one that registers its factory (and, if it records
resources other than processes in the run-state file, their reaper with runstate.register_reaper),
plus its tests; harness/runtime/__init__.py finds and imports it (load_builtins). Nothing else names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, TypeVar, runtime_checkable

from ..errors import MeshCrashed, UsageError
from .runstate import RunRecord, reap_leftovers
from .health import restart_unhealthy

if TYPE_CHECKING:
    from ..modes import Mode
    from ..topology import Topology
    from ..clients.toxiproxy import ToxiproxyClient

__all__ = [
    "BaseRuntime",
    "RUNTIMES",
    "Runtime",
    "RuntimeFactory",
    "RuntimeTraits",
    "engine_edges",
    "make_runtime",
    "register_runtime",
    "runtime_traits",
    "toxiproxy_answers",
]


@runtime_checkable
class Runtime(Protocol):
    """What the mesh, the fault code, the CLI, soak and explore use of a runtime; every runtime provides all of it."""

    name: str
    """The name it is registered under ("local", "compose"): what --runtime and journals say."""
    topology: Topology
    """The topology it runs."""
    mode: Mode
    """The mode every service is started in (its env vars)."""
    secret: str
    """The token a service's config endpoint requires (CASCADE_CONFIG_TOKEN)."""
    record: RunRecord | None
    """The run-state file of this mesh (processes, resources, log dir); None until start()."""
    reaped: list[str]
    """What start() cleaned up after dead runners, one line each (shown by the plugin)."""
    host: str
    """Where the harness reaches the mesh: every port below, Toxiproxy's API and the HTTP engine's admin API.

    127.0.0.1 for the local runtime and a local Docker engine; a remote engine's address
    (CASCADE_DOCKER_ADDRESS, else DOCKER_HOST's host) for compose. Known before start().
    """
    ports: dict[str, int]
    """Service -> the TCP port on `host` where it listens itself (not through a proxy)."""
    proxy_ports: dict[str, int]
    """Edge -> the TCP port on `host` where its Toxiproxy proxy listens."""
    toxiproxy_port: int
    """The TCP port on `host` of the Toxiproxy API (0 until start())."""

    @property
    def toxiproxy_url(self) -> str:
        """The base URL of the Toxiproxy API (http://<host>:<toxiproxy_port>)."""

    def start(self) -> ToxiproxyClient:
        """Reap dead runs, bring the mesh up until every service is healthy; on failure tear down and re-raise."""

    def stop(self) -> None:
        """Tear everything down (grace period, then force) and release ports; safe to call twice."""

    def address(self, service: str) -> tuple[str, int]:
        """(host, port) where `service` listens itself, not through a proxy; may change when it restarts."""

    def logs(self, service: str, lines: int = 30) -> list[str]:
        """The last `lines` lines of `service`'s log, [] if it has none."""

    def pid(self, service: str) -> int | None:
        """The host pid of `service`'s process while it runs; None if it does not, or the runtime has none to give."""

    def is_running(self, service: str) -> bool:
        """Whether `service` runs (a paused one still runs)."""

    def is_paused(self, service: str) -> bool:
        """Whether `service` is paused (SIGSTOP, or a frozen cgroup)."""

    def kill(self, service: str) -> None:
        """SIGKILL `service` and wait until it is gone; it stays down until restart()."""

    def pause(self, service: str) -> None:
        """Freeze `service`'s processes (the state may show a moment later)."""

    def resume(self, service: str) -> None:
        """Undo pause()."""

    def restart(self, service: str, *, ready: bool = True) -> None:
        """Stop `service` if it runs, start it again; wait until healthy, or (ready=False) until it answers."""

    def wait_healthy(self, service: str, *, answered: bool = False) -> None:
        """Wait, up to its start timeout in seconds, until `service` passes its health check (`answered`: answers it)."""

    def heal_processes(self) -> list[str]:
        """Resume paused, restart dead and unhealthy services (MeshCrashed if Toxiproxy is gone); what was done."""


RuntimeFactory = Callable[..., Runtime]
"""Makes a runtime: (topology, mode, *, state_dir, detached, log) -> Runtime; raises UsageError if it cannot run it."""

_FACTORIES: dict[str, RuntimeFactory] = {}
RUNTIMES: Mapping[str, RuntimeFactory] = MappingProxyType(_FACTORIES)
"""Registered runtimes by name, in registration order (live and read-only: use register_runtime)."""

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class RuntimeTraits:
    """What callers may ask of a runtime before making one (so they never branch on its name)."""

    parallel_meshes: bool = False
    """Whether several meshes of one topology can run at once on one machine (explore --workers N)."""
    header: Callable[[], str] = lambda: ""
    """Extra words for the session header, e.g. "compose=2.29.7" (which engine ran the suite)."""


_TRAITS: dict[str, RuntimeTraits] = {}


def register_runtime(name: str, *, parallel_meshes: bool = False,
                     header: Callable[[], str] | None = None) -> Callable[[F], F]:
    """Decorator: register a runtime factory (a class or function) under `name`, with its traits; returns it unchanged."""

    def register(factory: F) -> F:
        if name in _FACTORIES and _FACTORIES[name] is not factory:
            raise UsageError(f"runtime {name!r} is registered twice ({_FACTORIES[name]!r} and {factory!r}); "
                             "give the new runtime another name")
        _FACTORIES[name] = factory
        _TRAITS[name] = RuntimeTraits(parallel_meshes, header or (lambda: ""))
        return factory

    return register


def runtime_traits(name: str) -> RuntimeTraits:
    """The traits `name` registered with; UsageError naming the runtimes if unknown."""
    if name not in _TRAITS:
        raise UsageError(f"unknown runtime {name!r}; runtimes are: {', '.join(RUNTIMES)}")
    return _TRAITS[name]


def make_runtime(name: str, topology: Topology, mode: Mode, **kw: Any) -> Runtime:
    """The runtime registered as `name` for `topology` (not started); UsageError naming the runtimes if unknown."""
    factory = _FACTORIES.get(name)
    if factory is None:
        raise UsageError(f"unknown runtime {name!r}; runtimes are: {', '.join(RUNTIMES)}")
    return factory(topology, mode, **kw)


def engine_edges(topology: Topology) -> list[str]:
    """The edges a runtime puts its HTTP engine on: every HTTP edge, sorted; none with CASCADE_HTTP_ENGINE=off.

    Off is for measuring what the engine costs (bench/) and for a machine without Envoy; HTTP
    faults are then refused by name, TCP faults work as before.
    """
    from ..clients.envoy import engine_disabled

    if engine_disabled():
        return []
    return sorted(name for name, edge in topology.edges.items() if edge.is_http)


def toxiproxy_answers(client: ToxiproxyClient) -> bool:
    """Whether the Toxiproxy API answers at all (while starting: any failure means not yet)."""
    try:
        client.version()
    except Exception:  # noqa: BLE001 - any failure just means "not up yet" while starting
        return False
    return True


class BaseRuntime:
    """What the built-in runtimes do the same way: start (reap first, tear down on failure) and heal_processes.

    A subclass provides `_start` and the small hooks below; it need not derive from this class to
    be a Runtime (the protocol is what counts), but then it writes these itself.
    """

    topology: Topology
    state_dir: Path
    reaped: list[str]
    engine: Any = None  # the HTTP fault engine (clients.envoy.EnvoyEngine) once started, if it runs one

    def start(self) -> ToxiproxyClient:
        """Reap what dead runners left, bring the mesh up; on any failure, tear down what was started and re-raise."""
        self.reaped = reap_leftovers(self.state_dir)
        self._before_start()
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def heal_processes(self) -> list[str]:
        """Resume paused and restart dead services; return what was done (for reset)."""
        self._check_toxiproxy()
        names = sorted(self.topology.services)
        actions = []
        for name in names:
            if self._needs_resume(name):
                self.resume(name)
                actions.append(f"resumed {name}")
            if not self.is_running(name):
                why = self._exit_reason(name)
                self.restart(name)
                actions.append(f"restarted {name} ({why})")
        return actions + restart_unhealthy(names, self._health_error, self.restart)

    # -- hooks -------------------------------------------------------------------------------

    def _before_start(self) -> None:
        """Checks and set-up that need no teardown if they fail (after reaping, before _start)."""

    def _start(self) -> ToxiproxyClient:
        raise NotImplementedError

    def _check_toxiproxy(self) -> None:
        """Raise MeshCrashed, with its evidence, if Toxiproxy no longer runs."""
        raise MeshCrashed(f"{type(self).__name__} cannot tell whether Toxiproxy runs")

    def _needs_resume(self, service: str) -> bool:
        """Whether heal must resume `service` (it is paused)."""
        return self.is_paused(service)

    def _exit_reason(self, service: str) -> str:
        """Why `service` no longer runs, for heal's report (a fault killed it, or it exited: where its log is)."""
        return "not running"

    def _health_error(self, service: str, *, answered: bool = False) -> str:
        """'' if `service` passes its health check now, else what went wrong."""
        raise NotImplementedError

    # Provided by the subclass (members of the Runtime protocol).
    def stop(self) -> None:
        raise NotImplementedError

    def is_running(self, service: str) -> bool:
        raise NotImplementedError

    def is_paused(self, service: str) -> bool:
        raise NotImplementedError

    def resume(self, service: str) -> None:
        raise NotImplementedError

    def restart(self, service: str, *, ready: bool = True) -> None:
        raise NotImplementedError
