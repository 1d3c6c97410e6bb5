"""One service process: its environment, config watcher, dependency callers, start-up work and web app.

    build(): Runtime(name, deps) ─on_startup(...)─ .app(routes) ─> Starlette app
    main(build) ─> uvicorn on HOST:PORT
      lifespan: HTTP and Redis clients, config poll every 100 ms, start-up steps retried until done
      /health   200 once the first config is loaded and every start-up step (seeding, cache warm-up) is done
      /cascade/v1/state  the applied-version protocol the harness reads (docs/service-protocol.md):
                         the config version applied, the versions rejected, calls given up on per callee
      /counters what these services' own tests and scenarios read: requests, calls, retries, fallbacks,
                breakers, config version
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence

from .counters import Counters
from .env import ServiceEnv, load_env
from .errors import StartupError
from .web import STATE_PATH, CascadeMiddleware, json_response

if TYPE_CHECKING:
    from .calls import Caller
    from .config_state import ConfigState, ConfigView

__all__ = ["POLL_INTERVAL_S", "POLL_TIMEOUT_S", "Runtime", "main"]

POLL_INTERVAL_S = 0.1
# Compiled in, not read from the config: no pushed document may be able to stop config delivery.
POLL_TIMEOUT_S = 0.5
STARTUP_RETRY_S = 0.025
WARM_VALIDATION_AFTER_S = 1.0
# The event loop is checked this often; a wake-up later than STALL_LOG_MS is logged as a stall.
LOOP_CHECK_S = 0.05
STALL_LOG_MS = 50.0

log = logging.getLogger("chirp")


class Runtime:
    """Everything a service shares between its requests."""

    def __init__(self, name: str, deps: Sequence[str] = (), *, environ: Mapping[str, str] | None = None,
                 consumes_config: bool = True, needs_token: bool = False,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.env: ServiceEnv = load_env(os.environ if environ is None else environ, name, tuple(deps),
                                        needs_token=needs_token)
        self.name = self.env.name
        self.knobs = self.env.knobs
        self.clock = clock
        self.counters = Counters()
        self.consumes_config = consumes_config and "config" in self.env.deps
        # Imported here, not at the top: the config service needs neither pydantic nor the callers.
        self.config_state: ConfigState | None = None
        if self.consumes_config:
            from .config_state import initial_state

            self.config_state = initial_state()
        self.callers: dict[str, Caller] = {}
        if any(dep != "config" for dep in self.env.deps):
            from .calls import Caller

            self.callers = {
                dep: Caller(dep, url, knobs=self.knobs, config=self.view, counters=self.counters, clock=clock)
                for dep, url in self.env.deps.items() if dep != "config"
            }
        self.waiting: set[str] = {"config"} if self.consumes_config else set()
        self.version_override: Callable[[], int] | None = None  # the config service reports its own
        self._startup: list[tuple[str, Callable[[], Awaitable[None]]]] = []
        self._background: list[Callable[[], Awaitable[None]]] = []
        self._tasks: list[asyncio.Task[None]] = []
        self.broken = ""  # why this process can no longer do its job (brittle config watcher died)
        self.http: Any = None

    def view(self) -> ConfigView:
        """The config in use now (validated, or raw with the config_validation knob brittle)."""
        assert self.config_state is not None, f"{self.name} does not consume config"
        return self.config_state.view

    def caller(self, dep: str) -> Caller:
        return self.callers[dep]

    @property
    def ready(self) -> bool:
        return not self.waiting

    def on_startup(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        """Run `fn` at start-up, retried until it succeeds; /health waits for it."""
        self._startup.append((name, fn))
        self.waiting.add(name)

    def in_background(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Run `fn` for the life of the process (a watcher), cancelled at shutdown."""
        self._background.append(fn)

    # -- the web app -------------------------------------------------------------------

    def app(self, routes: list[Any]) -> Any:
        """The Starlette app: plumbing routes, the service's routes, the middleware and lifespan."""
        from starlette.applications import Starlette
        from starlette.middleware import Middleware
        from starlette.routing import Route

        plumbing = [
            Route("/health", self._health),
            Route(STATE_PATH, self._state),
            Route("/counters", self._counters),
            Route("/counters/reset", self._reset, methods=["POST"]),
        ]
        return Starlette(routes=plumbing + routes, lifespan=self._lifespan,
                         middleware=[Middleware(CascadeMiddleware, runtime=self)])

    async def _health(self, request: Any) -> Any:
        if self.broken:
            return json_response({"status": "broken", "service": self.name, "why": self.broken}, 503)
        if self.ready:
            return json_response({"status": "ready", "service": self.name})
        return json_response({"status": "starting", "waiting_for": sorted(self.waiting)}, 503)

    async def _counters(self, request: Any) -> Any:
        state = self.config_state
        if self.version_override is not None:
            version = self.version_override()
        else:
            version = state.applied_version if state is not None else 0
        return json_response(self.counters.snapshot(
            service=self.name, mode=self.knobs.mode, knobs=self.knobs.names,
            breakers={dep: c.breaker.state for dep, c in self.callers.items()},
            config_version=version, config_rejected=list(state.rejected) if state is not None else [],
        ))

    async def _state(self, request: Any) -> Any:
        """GET /cascade/v1/state: what the harness may know of this service (docs/service-protocol.md)."""
        state = self.config_state  # the config service reads no config: null, as the protocol says
        return json_response({
            "service": self.name,
            "config_version": state.applied_version if state is not None else None,
            "config_rejected": list(state.rejected) if state is not None else [],
            "calls_abandoned": self.counters.abandoned(),
            "calls_sent": dict(self.counters.calls),
        })

    async def _reset(self, request: Any) -> Any:
        self.counters.reset()
        return json_response({"reset": True})

    @contextlib.asynccontextmanager
    async def _lifespan(self, app: Any) -> AsyncIterator[None]:
        if self.env.deps:
            import httpx

            # trust_env=False: no proxy variable may send a request anywhere but the given address.
            self.http = httpx.AsyncClient(timeout=None, trust_env=False,
                                          limits=httpx.Limits(max_connections=256, max_keepalive_connections=64))
        for caller in self.callers.values():
            caller.http_client = self.http
        if "redis" in self.callers:
            self.callers["redis"].redis_client = _redis_client(self.env.deps["redis"])
        self._tasks = [asyncio.create_task(self._run_startup(n, fn)) for n, fn in self._startup]
        self._tasks.append(asyncio.create_task(self._watch_loop()))
        self._tasks += [asyncio.create_task(fn()) for fn in self._background]  # type: ignore[arg-type]
        if self.consumes_config:
            self._tasks.append(asyncio.create_task(self._watch_config()))
        try:
            yield
        finally:
            for t in self._tasks:
                t.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self.http is not None:
                await self.http.aclose()
            if "redis" in self.callers and self.callers["redis"].redis_client is not None:
                await self.callers["redis"].redis_client.aclose()

    async def _watch_loop(self) -> None:
        """Measure how late the event loop wakes up: a blocked loop times out every call in flight."""
        while True:
            before = self.clock()
            await asyncio.sleep(LOOP_CHECK_S)
            late_ms = (self.clock() - before - LOOP_CHECK_S) * 1000
            if late_ms > self.counters.loop_stall_max_ms:
                self.counters.loop_stall_max_ms = late_ms
            if late_ms > STALL_LOG_MS:
                log.warning("event loop stalled for %.0f ms", late_ms)

    async def _run_startup(self, name: str, fn: Callable[[], Awaitable[None]]) -> None:
        last_log = 0.0
        while True:
            try:
                await fn()
            except Exception as exc:  # noqa: BLE001 - start-up work is retried until its dependency is up
                if self.clock() - last_log > 1.0:
                    log.warning("start-up step %s not done yet: %s", name, exc)
                    last_log = self.clock()
                await asyncio.sleep(STARTUP_RETRY_S)
            else:
                self.waiting.discard(name)
                return

    async def _warm_validation(self) -> None:
        """Import pydantic off the event loop, a moment after start-up."""
        # The default document needs no pydantic (config_state.validated_view), so start-up skips
        # it; importing it now keeps the first real push within one poll. The delay keeps this CPU
        # out of the mesh's parallel start on small machines.
        await asyncio.sleep(WARM_VALIDATION_AFTER_S)
        await asyncio.get_running_loop().run_in_executor(None, _import_validation)

    def _naive_settings(self, document: Any, version: int) -> None:
        """Brittle: read settings straight out of what was just applied, outside any error handling."""
        # This is how unvalidated config code typically breaks for good: the derived settings
        # are computed in the watcher itself, so a document that is not an object or lacks a
        # section (February 2023: rate limits deleted) kills the watcher. The service stays on
        # the broken version, never sees the rollback, and says so on /health.
        try:
            document["timeouts_ms"]["config"], document["rate_limits"]["post"]
        except (TypeError, KeyError) as exc:
            self.broken = f"config watcher died on version {version}: {type(exc).__name__}: {exc}"
            log.error("%s; this service will not see config changes any more", self.broken)
            raise _WatcherDied(self.broken) from exc

    async def _watch_config(self) -> None:
        """Poll GET /config; validate (or not) and apply each new version."""
        from .config_state import offer

        assert self.config_state is not None
        url = self.env.deps["config"] + "/config"
        validate = not self.knobs.is_brittle("config_validation")
        etag = ""
        last_error = ""
        while True:
            self.counters.calls["config"] += 1
            try:
                async with asyncio.timeout(POLL_TIMEOUT_S):
                    r = await self.http.get(url, headers={"if-none-match": etag} if etag else {})
                if r.status_code == 200:
                    data = r.json()
                    self.config_state, line = offer(self.config_state, int(data["version"]), data.get("document"),
                                                    validate=validate)
                    if line:
                        (log.warning if "rejected" in line else log.info)(line)
                    etag = r.headers.get("etag", "")
                    if not validate:
                        self._naive_settings(data.get("document"), int(data["version"]))
                elif r.status_code != 304:
                    raise ValueError(f"GET /config answered {r.status_code}")
                last_error = ""
            except _WatcherDied:
                return  # brittle: nothing polls any more; the broken version stays applied
            except Exception as exc:  # noqa: BLE001 - keep the current config and poll again
                msg = f"{type(exc).__name__}: {exc}"
                if msg != last_error:
                    log.warning("config poll failed (keeping version %s): %s",
                                self.config_state.applied_version, msg)
                    last_error = msg
            if self.config_state.loaded and "config" in self.waiting:
                self.waiting.discard("config")
                if validate:
                    self._tasks.append(asyncio.create_task(self._warm_validation()))
            await asyncio.sleep(POLL_INTERVAL_S if self.config_state.loaded else STARTUP_RETRY_S)


class _WatcherDied(Exception):
    """Brittle config handling met a document it cannot read; the watcher ends."""


def _import_validation() -> None:
    from .config_default import default_document
    from .config_schema import validate_document

    validate_document(default_document())


def _redis_client(url: str) -> Any:
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    # No hidden retries and no socket timeouts inside redis-py: the Caller owns both, per mode.
    return Redis.from_url(url, socket_timeout=None, socket_connect_timeout=None,
                          retry=Retry(NoBackoff(), 0), decode_responses=True, health_check_interval=0)


def main(build: Callable[[], tuple[Runtime, Any]]) -> None:
    """Build the service from the environment and serve it until SIGTERM; a bad environment exits 2."""
    # `python -m services.media` runs media.py as __main__: its file name is the service's name.
    name = os.environ.get("CASCADE_SERVICE") or os.path.splitext(os.path.basename(sys.argv[0]))[0]
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format=f"%(asctime)s %(levelname)s {name}: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per request would drown the log
    try:
        rt, app = build()
    except StartupError as exc:
        print(f"{name}: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    import uvicorn

    log.info("listening on %s:%s (mode %s%s)", rt.env.host, rt.env.port, rt.knobs.mode,
             f", brittle: {','.join(rt.knobs.names)}" if rt.knobs.names else "")
    config = uvicorn.Config(app, host=rt.env.host, port=rt.env.port, log_level="warning", access_log=False,
                            lifespan="on", loop="asyncio", http="h11", ws="none", timeout_graceful_shutdown=1)
    uvicorn.Server(config).run()
