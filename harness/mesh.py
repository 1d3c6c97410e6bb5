"""The mesh: a running topology (services, datastore, Toxiproxy, one proxy per edge) behind one object.

    with Mesh(load_topology("services/topology.toml"), mode="brittle") as mesh:
        mesh.request("gateway", "GET", "/health")
        mesh.reset()

The pytest plugin and the CLI only wire this object; everything they do is reachable here.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from .config import ConfigSource, make_config_source
from .errors import HarnessError, MeshNotSettled, UsageError, VerificationFailed
from .modes import Mode, parse_mode
from .clients.probe import Response, http_request
from .runtime import RUNTIMES, Runtime, make_runtime
from .topology import Topology, callees_first
from .clients.toxiproxy import ToxiproxyClient

if TYPE_CHECKING:
    from .observe.journeys import SteadyState
    from .judge.verdicts import Observation

Observer = Callable[["Observation", bytes], None]

__all__ = ["Mesh", "RUNTIMES"]

SETTLE_S = 10.0  # how long reset() waits for the journeys to return to their steady state
log = logging.getLogger("cascade")


class Mesh:
    """A topology brought up on a runtime; a context manager that always tears down."""

    def __init__(
        self,
        topology: Topology,
        *,
        runtime: str = "local",
        mode: str | Mode = "resilient",
        seed: int | None = None,
        state_dir: Path | None = None,
        detached: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.topology = topology
        self.mode = mode if isinstance(mode, Mode) else parse_mode(mode, topology.knobs)
        self.seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
        # Unknown names raise UsageError listing RUNTIMES; a runtime's factory checks its own needs.
        self.runtime: Runtime = make_runtime(runtime, topology, self.mode, state_dir=state_dir,
                                             detached=detached, log=log)
        self._toxiproxy: ToxiproxyClient | None = None
        self._steady: SteadyState | None = None
        self._observers: list[Observer] = []
        self._observers_lock = threading.Lock()
        self.dirty = False  # a fault was applied since the last reset
        self.unsettled = False  # a recovery check gave up: the next reset restarts every service first
        self.quiet_since = 0.0  # time.monotonic() when the last journey ended (how long data may still be in flight)
        self._cuts: dict[str, int] = {}  # edge -> how many active faults hold its proxy disabled
        self._cuts_lock = threading.Lock()
        self.started = False
        self._config_sources: dict[str, ConfigSource] = {}  # [config.NAME] -> its source, built on first use
        self._config_lock = threading.Lock()
        self._config_lease: Any = None  # the locks on config other meshes on this machine would share

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> Mesh:
        """Bring every service up and wait until all are healthy; a config file path leading out of the topology's
        folder through a symlink is refused first (InvalidTopology), before anything starts."""
        from .config.file import confine

        shared: dict[str, str] = {}  # config that outlives the mesh and every mesh on this machine would share
        for spec in self.topology.config_sources.values():
            if spec.kind == "file" and not (spec.container_path and self.runtime.name != "local"):
                path = confine(spec, self.topology.root)
                shared[f"file:{path}"] = f"config source {spec.name!r} (the file {path})"
            elif spec.kind == "etcd" and "{" not in spec.endpoints:  # an etcd outside the mesh
                shared[f"etcd:{spec.endpoints}{spec.key}"] = \
                    f"config source {spec.name!r} (etcd key {spec.key} at {spec.endpoints})"
        if shared:
            from .runtime.ports import lease_keys

            held = lease_keys(shared, self.runtime.state_dir / "config-locks")
            if isinstance(held, str):
                raise UsageError(
                    f"{held} is in use by another mesh on this machine: each would see the other's bad config. "
                    "Run the meshes of this topology one at a time (no pytest -n, cascade explore --workers 1)")
            self._config_lease = held
        try:
            self._toxiproxy = self.runtime.start()
        except BaseException:
            self._release_config_lease()
            raise
        self.started = True
        return self

    def stop(self) -> None:
        """Tear everything down, a config source a push left changed put back first; safe to call twice."""
        try:
            for line in self.restore_config(strict=False):
                log.warning("teardown: %s", line)
        finally:
            self.started = False
            try:
                self.runtime.stop()
            finally:
                self._release_config_lease()

    def _release_config_lease(self) -> None:
        if self._config_lease is not None:
            self._config_lease.release()
            self._config_lease = None

    def restore_config(self, *, strict: bool = True) -> list[str]:
        """Every config source a push left changed (a failed revert, an interrupted test) back as it was; what it did.

        A file or an etcd key outside the mesh outlives it, so this runs at reset and teardown. One
        changed by someone else since the push is left alone: VerificationFailed says so, or with
        `strict=False` (teardown) the line returned does.
        """
        with self._config_lock:
            sources = list(self._config_sources.items())
        done = []
        for name, source in sources:
            restore = getattr(source, "restore", None)
            if restore is None:
                continue
            try:
                if restore():
                    done.append(f"restored config.{name} to its content before the push")
            except HarnessError as exc:
                if strict:
                    raise
                done.append(f"could not restore config.{name}: {exc}")
        return done

    def __enter__(self) -> Mesh:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- control -----------------------------------------------------------------

    @property
    def toxiproxy(self) -> ToxiproxyClient:
        if self._toxiproxy is None:
            raise UsageError("the mesh is not started; use `with Mesh(...) as mesh:` or mesh.start()")
        return self._toxiproxy

    def cut(self, edge: str) -> None:
        """Hold `edge`'s proxy disabled for one more fault (the first cut disables it, verified)."""
        with self._cuts_lock:
            if self._cuts.get(edge, 0) == 0:
                self.toxiproxy.disable(edge)
            self._cuts[edge] = self._cuts.get(edge, 0) + 1

    def uncut(self, edge: str) -> None:
        """Release one fault's hold on `edge`; the last release re-enables the proxy (verified)."""
        with self._cuts_lock:
            left = self._cuts.get(edge, 0) - 1
            if left <= 0:
                self.toxiproxy.enable(edge)
                self._cuts.pop(edge, None)
            else:
                self._cuts[edge] = left

    def reset(self) -> list[str]:
        """Back to baseline: no toxics, every proxy enabled, every service running; returns what it did."""
        with self._cuts_lock:
            self._cuts.clear()
        self.toxiproxy.reset()
        engine = getattr(self.runtime, "engine", None)
        if engine is not None:
            engine.reset_all()  # HTTP faults a failed test left: every edge's routes at rest, read back
        dirty = [p.name for p in self.toxiproxy.proxies().values() if p.toxics or not p.enabled]
        if dirty:
            raise VerificationFailed(f"after reset these proxies still have toxics or are disabled: {', '.join(dirty)}")
        actions = self.runtime.heal_processes()
        actions += self.restore_config()
        if self.dirty and self._steady is not None:
            # Lasting damage (data a service seeds at start-up lost with its datastore, a wedged
            # process): what comes next must start from the mesh at rest, not from the damage, so
            # every service is restarted. Known already when a recovery check gave up on the mesh
            # (no need to wait for it again); found out otherwise when it will not settle.
            restarted = self.unsettled
            if restarted:
                actions.append(f"restarted {', '.join(self.restart_services())} (a recovery check saw lasting damage)")
            try:
                actions += self._settle()
            except MeshNotSettled as exc:
                if restarted:
                    raise
                actions.append(f"not settled ({exc}); restarted {', '.join(self.restart_services())}")
                actions += self._settle()
        self.dirty = self.unsettled = False
        return actions

    def _settle(self) -> list[str]:
        """Wait until every journey shows its steady-state verdict again (breakers closed, caches warm)."""
        from .observe.journeys import wait_for_recovery

        rec = wait_for_recovery(self, self.steady_state().verdicts(), within_s=SETTLE_S)
        if not rec.recovered:
            off = ", ".join(f"{n} {rec.last[n].verdict} ({rec.last[n].reason})" for n in rec.still_off)
            raise MeshNotSettled(
                f"the mesh did not return to its steady state within {SETTLE_S:.0f} s of reset: {off}; "
                "a service keeps state a fault left behind (see its log), or the steady state was measured "
                "while the mesh was not at rest"
            )
        return [f"settled in {rec.seconds:.2f} s"] if rec.seconds > 0.2 else []

    def restart_services(self) -> list[str]:
        """Restart every service, callees before their callers (what reset does when the mesh will not settle).

        Data a datastore keeps on disk survives, as it would in production; the services' memory
        does not. Returns the services in the order they were restarted.
        """
        order = callees_first(self.topology)
        for name in order:
            self.runtime.restart(name)
        return order

    def config(self, source: str | None = None) -> ConfigSource:
        """The config source `source` ([config.NAME]; None: the only one), what BadConfig and explore_config push through.

        One object per file, env or etcd source and mesh, so what it snapshotted before a push is
        there to restore (an http source keeps its versions itself: a new client each time, at the
        service's address now, which changes when a container restarts).
        A topology with no [config] table and no config_service gets [mesh] config_source's
        registered source (default "http", which then asks for a config_service).
        """
        if not self.topology.config_sources:
            if source:
                self.topology.config_source_named(source)  # raises: names the fix
            return make_config_source(self.topology.config_source, self)
        spec = self.topology.config_source_named(source)
        if spec.kind == "http":  # a client of the service's own versions, built where the service is now
            kind = self.topology.config_source if spec.service == self.topology.config_service else spec.kind
            return make_config_source(kind, self, spec)
        with self._config_lock:
            built = self._config_sources.get(spec.name)
            if built is None:
                built = self._config_sources[spec.name] = make_config_source(spec.kind, self, spec)
            return built

    # -- talking to services -------------------------------------------------------

    def address(self, service: str) -> tuple[str, int]:
        return self.runtime.address(service)

    def url(self, service: str) -> str:
        host, port = self.address(service)
        return f"http://{host}:{port}"

    def proxy_address(self, edge: str) -> tuple[str, int]:
        """Where the proxy of `edge` listens (what the caller's env var points at), reached from the harness."""
        return self.runtime.host, self.runtime.proxy_ports[self.topology.edge(edge).name]

    def request(self, service: str, method: str = "GET", path: str = "/", **kw: Any) -> Response:
        """One timed HTTP request straight to `service` (not through a proxy)."""
        host, port = self.address(service)
        return http_request(host, port, method, path, **kw)

    # -- journeys ---------------------------------------------------------------------

    def journey(self, name: str) -> Observation:
        """Run journey `name` once and return its observation (with its verdict)."""
        from .observe.journeys import run_journey

        return run_journey(self, name)

    def journeys(self, names: list[str] | None = None) -> dict[str, Observation]:
        """Run several journeys at once; all of them if `names` is None."""
        from .observe.journeys import run_journeys

        return run_journeys(self, names)

    def steady_state(self, *, refresh: bool = False, samples: int = 3) -> SteadyState:
        """Every journey's baseline, measured once per mesh before faults (cached).

        The measurement is the baseline gate (judge/at_rest.py): it is taken again until every journey
        answers its declared `at_rest` verdict, and raises BrokenAtRest, naming each journey, what
        it answered and the likely fix, if one does not within AT_REST_WITHIN_S.
        """
        from .judge.at_rest import settle_at_rest
        from .observe.journeys import measure_steady_state

        if self._steady is None or refresh:
            self._steady = settle_at_rest(self.topology, lambda: measure_steady_state(self, samples=samples))
        return self._steady

    def counters(self, service: str) -> dict[str, Any]:
        """The service's /counters document, or {}: the bundled services' own, for their tests and scenarios.

        The harness itself learns what a service applied and gave up on only through the
        applied-version protocol (harness/config/applied.py, docs/service-protocol.md).
        """
        r = self.request(service, "GET", "/counters", timeout_s=2.0)
        if r.status != 200:
            return {}
        try:
            data = json.loads(r.body)
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call `observer` with every journey observation from now on; returns the unsubscribe."""
        with self._observers_lock:
            self._observers.append(observer)

        def unsubscribe() -> None:
            with self._observers_lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return unsubscribe

    def record(self, obs: Observation, body: bytes) -> None:
        self.quiet_since = time.monotonic()
        with self._observers_lock:
            observers = list(self._observers)
        for observer in observers:
            observer(obs, body)

    # -- evidence -------------------------------------------------------------------

    def logs(self, service: str, lines: int = 30) -> list[str]:
        """The last `lines` lines of `service`'s log."""
        return self.runtime.logs(service, lines)
