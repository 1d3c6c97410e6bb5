"""The topology: one validated declaration of services, edges and journeys (pure, no I/O but reading the file).

A topology is written in TOML (or built in Python) and read by both runtimes:

    [mesh]      name, brittle knobs the services understand, leak patterns, the config
                service, compose_file (the user's compose file, relative to this file),
                explore_config (a config patch, dotted path -> value, in force while exploring:
                shorter breaker resets and the like, so an example takes a fraction of a second),
                config_source (the registered config source pushes go through, harness/config/;
                default "http": the config_service, spoken to over its protocol),
                config_apply_s (seconds a service may take to apply a pushed version, default 5:
                the most the harness waits for services that report the version they run
                (docs/service-protocol.md), and what it waits for those that cannot say)
    [services]  how each service starts locally, its health check, its compose name;
                command placeholders: {python} {port} {host} {root} (the topology's folder)
                and {data} (a per-run folder for the service's data that outlives a Kill)
    [edges]     "caller->callee": the env var that carries callee's address into caller
    [journeys]  user-visible flows: entry request, edges crossed, time budget, contracts
    [config.X]  a config source named X: where services read config (file, env, etcd, http), who
                reads it (consumers: their journeys are a push's blast radius), how it is reloaded
                and how the harness knows it was applied (ConfigSourceSpec; docs/config-faults.md)

Every problem is reported as `InvalidTopology` naming the field, e.g.
`edges."gateway->auht": unknown service 'auht'; services are: auth, gateway, redis`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import InvalidTopology

__all__ = [
    "AT_REST_VERDICTS",
    "CONFIG_FORMATS",
    "CONFIG_KINDS",
    "ConfigSourceSpec",
    "Edge",
    "Journey",
    "Readback",
    "Service",
    "Topology",
    "VERDICTS",
    "callees_first",
    "load_topology",
    "parse_edge_name",
]

VERDICTS = ("full", "degraded", "failed_fast", "hung", "wrong")
NEVER_ACCEPTABLE = frozenset({"hung", "wrong"})
AT_REST_VERDICTS = ("full", "degraded")  # what a journey may honestly answer with no fault anywhere
CONFIG_APPLY_S = 5.0  # default [mesh] config_apply_s: the bundled services poll their config every 100 ms
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_EDGE = re.compile(r"^\s*([^\s>-][^\s>]*?)\s*->\s*([^\s>]+)\s*$")
_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"})


@dataclass(frozen=True)
class Service:
    """One process (local) or container (compose) with a health check."""

    name: str
    command: tuple[str, ...] = ()
    health: str = "/health"
    port_env: str = "PORT"
    env: Mapping[str, str] = field(default_factory=dict)
    start_timeout_s: float = 10.0
    compose_service: str = ""
    container_port: int = 8000

    @property
    def http(self) -> bool:
        """True when health (and journeys) speak HTTP; False for a raw TCP check."""
        return self.health != "tcp"


PROTOCOLS = ("http", "tcp")


@dataclass(frozen=True)
class Edge:
    """A dependency `caller -> callee`; each gets its own Toxiproxy proxy."""

    caller: str
    callee: str
    env: str
    url: str = "http://{host}:{port}"
    # "http" (HTTP faults apply: the HTTP engine sits on it) or "tcp"; "" infers it from `url`
    protocol: str = ""

    def __post_init__(self) -> None:
        if not self.protocol:
            object.__setattr__(self, "protocol", "http" if self.url.startswith("http://") else "tcp")

    @property
    def name(self) -> str:
        return f"{self.caller}->{self.callee}"

    @property
    def is_http(self) -> bool:
        """Whether HTTP faults apply: declared `protocol = "http"`, or a url template http://..."""
        return self.protocol == "http"

    def address(self, host: str, port: int) -> str:
        """The value of `env` for a proxy listening on host:port."""
        return self.url.format(host=host, port=port)


@dataclass(frozen=True)
class Readback:
    """How to read back a write a journey acknowledged: GET service path with {id} from the answer."""

    service: str
    path: str
    id_field: str = "id"


@dataclass(frozen=True)
class Journey:
    """A user-visible flow: one entry request, the edges it crosses, its time budget."""

    name: str
    service: str
    path: str
    edges: tuple[str, ...]
    budget_ms: int
    method: str = "GET"
    headers: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    expect_status: tuple[int, ...] = (200,)
    expect_body: str = ""
    # a regex: an expected answer whose body matches it is degraded (for services that say so in the body)
    degraded_body: str = ""
    contracts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    description: str = ""
    readback: Readback | None = None
    allow_leaks: bool = False  # its error bodies are a public API (a third-party API's error JSON)
    at_rest: str = "full"  # the verdict it answers before any fault (the baseline gate holds it to that)


CONFIG_KINDS = ("file", "env", "etcd", "http")
CONFIG_FORMATS = ("json", "yaml", "toml", "raw")
_SIGNALS = ("HUP", "USR1", "USR2", "INT", "TERM", "QUIT")
_FORMAT_BY_SUFFIX = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".toml": "toml"}


@dataclass(frozen=True)
class ConfigSourceSpec:
    """One `[config.NAME]` table: where some services read their config, and how a push reaches them.

    kind       file | env | etcd | http
    consumers  the services that read it; a push's blast radius is every journey crossing one
    reload     how consumers pick a change up: "watch" (they re-read by themselves), "signal:HUP"
               (any of HUP, USR1, USR2, INT, TERM, QUIT), "restart", "http:POST /reload";
               an env source is always "restart"
    applied    how the harness knows it took effect (docs/config-faults.md):
               within_ms = N  wait at most N ms (alone: waited, not observed)
               log = "regex"  a line every consumer logs after the push (observed)
               rejected = "regex"  a line meaning a consumer refused it and kept its last good one
               http = "GET /path"  each consumer answers with the new content's sha256 (or, for
                                   etcd, its revision) in the body once it runs it (observed)
    """

    name: str
    kind: str
    consumers: tuple[str, ...]
    # file: the host file, relative to the topology's folder or absolute; on compose its folder must
    # be bind-mounted into the consumers (checked), unless container_path is set: then only the
    # local runtime uses `path`
    path: str = ""
    container_path: str = ""  # file, compose: where the file is inside the consumers' containers (Docker API)
    format: str = "json"  # file, etcd: how a patch is applied (raw: only whole documents)
    reload: str = "watch"
    applied: Mapping[str, Any] = field(default_factory=dict)
    allow_outside: bool = False  # file: a path outside the topology's folder is allowed
    var: str = ""  # env: the variable
    endpoints: str = ""  # etcd: "http://{service}" or "http://127.0.0.1:2379"
    key: str = ""  # etcd: the key
    service: str = ""  # http: the service speaking the config-service protocol
    # The journeys a push may change (its blast radius), when narrower than every journey crossing
    # a consumer: declared like a journey's edges, so a change anywhere else is reported as a cascade.
    journeys: tuple[str, ...] = ()

    @property
    def signal(self) -> str:
        """The signal name of a `signal:X` reload ("" for other reloads)."""
        return self.reload.partition(":")[2] if self.reload.startswith("signal:") else ""

    @property
    def reload_request(self) -> tuple[str, str] | None:
        """(method, path) of an `http:METHOD /path` reload, or None."""
        if not self.reload.startswith("http:"):
            return None
        method, _, path = self.reload[5:].partition(" ")
        return method, path

    @property
    def within_ms(self) -> int | None:
        value = self.applied.get("within_ms")
        return None if value is None else int(value)

    @property
    def observed(self) -> bool:
        """True when `applied` names something the consumers show (a log line or an HTTP answer)."""
        return "log" in self.applied or "http" in self.applied

    def file_path(self, root: Path) -> Path:
        """The file's host path: `path` under `root` unless absolute (not resolved: see confine_path)."""
        p = Path(self.path)
        return p if p.is_absolute() else root / p


@dataclass(frozen=True)
class Topology:
    """The whole declaration; construct with `Topology.build` or `load_topology`."""

    name: str
    services: Mapping[str, Service]
    edges: Mapping[str, Edge]
    journeys: Mapping[str, Journey]
    root: Path = Path(".")
    knobs: tuple[str, ...] = ()
    knobs_env: str = ""  # the system's own variable that also gets the brittle knobs (comma-separated)
    env: Mapping[str, str] = field(default_factory=dict)
    leak_patterns: tuple[str, ...] = ()
    degraded_header: str = "x-cascade-degraded"
    config_service: str = ""
    compose_file: Path | None = None  # the user's own compose file, for the compose runtime
    explore_config: Mapping[str, Any] = field(default_factory=dict)  # config patch in force while exploring
    config_source: str = "http"  # the registered config source (harness/config/) config pushes go through
    config_apply_s: float = CONFIG_APPLY_S  # how long a service may take to apply a pushed config version
    # [config.X] tables, plus one "http" source for [mesh] config_service (named after its service)
    config_sources: Mapping[str, ConfigSourceSpec] = field(default_factory=dict)

    # -- queries (pure) --------------------------------------------------

    def edge(self, name: str) -> Edge:
        """The edge called `name` ("a->b", spaces allowed), or InvalidTopology listing the edges."""
        caller, callee = parse_edge_name(name)
        key = f"{caller}->{callee}"
        if key not in self.edges:
            raise InvalidTopology(f"unknown edge {name!r}; edges are: {', '.join(sorted(self.edges))}")
        return self.edges[key]

    def service(self, name: str) -> Service:
        if name not in self.services:
            raise InvalidTopology(
                f"unknown service {name!r}; services are: {', '.join(sorted(self.services))}"
            )
        return self.services[name]

    def journey(self, name: str) -> Journey:
        if name not in self.journeys:
            raise InvalidTopology(
                f"unknown journey {name!r}; journeys are: {', '.join(sorted(self.journeys))}"
            )
        return self.journeys[name]

    def config_source_named(self, name: str | None = None) -> ConfigSourceSpec:
        """The config source `name`; None: the only one, else [mesh] config_service's; InvalidTopology naming the fix."""
        if name is None or name == "":
            if len(self.config_sources) == 1:
                return next(iter(self.config_sources.values()))
            legacy = self.config_sources.get(self.config_service)
            if legacy is not None and legacy.kind == "http" and legacy.service == self.config_service:
                return legacy  # [mesh] config_service keeps meaning "the" config, as before [config] tables
            if not self.config_sources:
                raise InvalidTopology("this topology declares no config source; add a [config.NAME] table "
                                      "(kind = \"file\", \"env\", \"etcd\" or \"http\"; docs/config-faults.md)")
            raise InvalidTopology(f"this topology has {len(self.config_sources)} config sources "
                                  f"({', '.join(sorted(self.config_sources))}); say which with source=\"NAME\"")
        if name not in self.config_sources:
            raise InvalidTopology(f"unknown config source {name!r}; config sources are: "
                                  f"{', '.join(sorted(self.config_sources)) or '(none: add a [config.NAME] table)'}")
        return self.config_sources[name]

    def edges_from(self, service: str) -> tuple[Edge, ...]:
        return tuple(e for e in self.edges.values() if e.caller == service)

    def edges_of(self, service: str) -> tuple[Edge, ...]:
        """Every edge into or out of `service` (what a partition cuts)."""
        return tuple(e for e in self.edges.values() if service in (e.caller, e.callee))

    def digest(self) -> str:
        """A short stable hash of the declaration, recorded in journals."""
        blob = json.dumps(_plain(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    # -- construction ----------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], root: Path | str = ".") -> Topology:
        """Build and validate from the TOML shape; every problem names its field."""
        return _parse(data, Path(root))


def callees_first(topology: Topology) -> list[str]:
    """The services ordered so that every callee comes before its callers (by name where edges form a cycle)."""
    calls = {n: {e.callee for e in topology.edges.values() if e.caller == n and e.callee != n} for n in topology.services}
    order: list[str] = []
    while len(order) < len(calls):
        ready = sorted(n for n, out in calls.items() if n not in order and out <= set(order))
        order.extend(ready or [min(n for n in calls if n not in order)])
    return order


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology TOML file."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise InvalidTopology(f"cannot read topology {str(p)!r}: {exc.strerror or exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InvalidTopology(f"{p}: not valid TOML: {exc}") from None
    return _parse(data, p.resolve().parent)


def parse_edge_name(name: object) -> tuple[str, str]:
    """Split "caller->callee" into its two service names."""
    if not isinstance(name, str):
        raise InvalidTopology(f"an edge name must be a string like 'timeline->media', got {name!r}")
    m = _EDGE.match(name)
    if not m:
        raise InvalidTopology(f"edge {name!r} is not of the form 'caller->callee'")
    return m.group(1), m.group(2)


# -- parsing and validation ----------------------------------------------


def _parse(data: Mapping[str, Any], root: Path) -> Topology:
    if not isinstance(data, Mapping):
        raise InvalidTopology(f"a topology must be a table, got {type(data).__name__}")
    _only(data, "topology", {"mesh", "services", "edges", "journeys", "config"})
    mesh = _table(data, "mesh", "mesh", required=False)
    _only(mesh, "mesh", {"name", "knobs", "knobs_env", "env", "leak_patterns", "degraded_header", "config_service",
                         "compose_file", "explore_config", "config_source", "config_apply_s"})
    name = _str(mesh, "name", "mesh", default="mesh")
    knobs = _str_list(mesh, "knobs", "mesh")
    for k in knobs:
        if not _NAME.match(k):
            raise InvalidTopology(f"mesh.knobs: {k!r} is not a valid knob name (lowercase, digits, _ or -)")
    env = _env_table(mesh, "env", "mesh")
    knobs_env = _str(mesh, "knobs_env", "mesh", default="")
    if knobs_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", knobs_env):
        raise InvalidTopology(f"mesh.knobs_env: {knobs_env!r} is not an environment variable name; "
                              "give the variable your services read their naive switches from, e.g. SHOP_NAIVE")
    if knobs_env and not knobs:
        raise InvalidTopology(f"mesh.knobs_env = {knobs_env!r} needs mesh.knobs: the names it may carry, "
                              "e.g. knobs = [\"fallback\", \"timeouts\"]")

    services_raw = _table(data, "services", "topology")
    if not services_raw:
        raise InvalidTopology("services: a topology needs at least one service")
    services = {n: _service(n, s) for n, s in services_raw.items()}
    config_service = mesh.get("config_service", "")
    if config_service and config_service not in services:
        raise InvalidTopology(
            f"mesh.config_service: unknown service {config_service!r}; services are: {', '.join(sorted(services))}"
        )
    config_source = _str(mesh, "config_source", "mesh", default="http")
    if not _NAME.match(config_source):
        raise InvalidTopology(f"mesh.config_source: {config_source!r} is not a config source name (lowercase, "
                              "digits, _ or -, like \"http\")")
    apply_s = mesh.get("config_apply_s", CONFIG_APPLY_S)
    if isinstance(apply_s, bool) or not isinstance(apply_s, (int, float)) or not 0 < apply_s <= 600:
        raise InvalidTopology(f"mesh.config_apply_s: must be a number of seconds in (0, 600], got {apply_s!r}")
    explore_config = dict(_table(mesh, "explore_config", "mesh", required=False))
    if explore_config and not config_service and config_source == "http":
        raise InvalidTopology("mesh.explore_config: needs mesh.config_service, the service it is pushed to")
    for path, value in explore_config.items():
        if not re.fullmatch(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*", path):
            raise InvalidTopology(f"mesh.explore_config: {path!r} is not a dotted path like \"breaker.reset_timeout_ms\"")
        if isinstance(value, Mapping):
            raise InvalidTopology(f"mesh.explore_config.{path}: write each setting as one quoted dotted key, e.g. \"breaker.reset_timeout_ms\" = 200, not a table")

    edges: dict[str, Edge] = {}
    for key, e in _table(data, "edges", "topology", required=False).items():
        edge = _edge(key, e, services)
        if edge.name in edges:
            raise InvalidTopology(f"edges.{key!r}: duplicate of edge {edge.name!r}")
        edges[edge.name] = edge
    _check_env_collisions(edges, services)
    _check_acyclic(edges)

    journeys = {
        n: _journey(n, j, services, edges)
        for n, j in _table(data, "journeys", "topology", required=False).items()
    }
    config_sources = {n: _config_source(n, c, services, root)
                      for n, c in _table(data, "config", "topology", required=False).items()}
    for n, c in list(config_sources.items()):
        if c.kind == "http" and not c.consumers:  # who reads an HTTP config service: whoever calls it
            readers = tuple(sorted(e.caller for e in edges.values() if e.callee == c.service))
            config_sources[n] = dataclasses.replace(c, consumers=readers)
        for journey in c.journeys:
            if journey not in journeys:
                raise InvalidTopology(f"config.{n}.journeys: unknown journey {journey!r}; journeys are: "
                                      f"{', '.join(sorted(journeys))}")
    if config_service:
        legacy = config_service
        if legacy in config_sources and config_sources[legacy].service != config_service:
            raise InvalidTopology(f"config.{legacy}: the name is taken by mesh.config_service's own source; "
                                  "rename the table or drop mesh.config_service")
        if not any(c.kind == "http" and c.service == config_service for c in config_sources.values()):
            readers = tuple(sorted(e.caller for e in edges.values() if e.callee == config_service))
            config_sources[legacy] = ConfigSourceSpec(name=legacy, kind="http", consumers=readers,
                                                      service=config_service)
    return Topology(
        name=name,
        services=services,
        edges=edges,
        journeys=journeys,
        root=root,
        knobs=tuple(knobs),
        knobs_env=knobs_env,
        env=env,
        leak_patterns=tuple(_str_list(mesh, "leak_patterns", "mesh")),
        degraded_header=_str(mesh, "degraded_header", "mesh", default="x-cascade-degraded").lower(),
        config_service=_str(mesh, "config_service", "mesh", default=""),
        compose_file=(root / _str(mesh, "compose_file", "mesh")) if "compose_file" in mesh else None,
        explore_config=explore_config,
        config_source=config_source,
        config_apply_s=float(apply_s),
        config_sources=config_sources,
    )


def _config_source(name: str, c: Any, services: Mapping[str, Service], root: Path) -> ConfigSourceSpec:
    where = f"config.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidTopology(f"{where}: config source names are lowercase letters, digits, _ or - (got {name!r})")
    if not isinstance(c, Mapping):
        raise InvalidTopology(f"{where}: must be a table like {{ kind = \"file\", path = \"config/app.json\", "
                              f"consumers = [\"app\"] }}, got {c!r}")
    kind = _str(c, "kind", where)
    if kind not in CONFIG_KINDS:
        raise InvalidTopology(f"{where}.kind: {kind!r} is not one of {', '.join(CONFIG_KINDS)}")
    keys = {"kind", "consumers", "journeys"} | {
        "file": {"path", "container_path", "format", "reload", "applied", "allow_outside"},
        "env": {"var", "applied"},
        "etcd": {"endpoints", "key", "format", "reload", "applied"},
        "http": {"service"},
    }[kind]
    for key in c:
        if key not in keys:
            raise InvalidTopology(f"{where}: unknown field {key!r} for kind = {kind!r}; allowed: {', '.join(sorted(keys))}")
    consumers = _str_list(c, "consumers", where)
    for svc in consumers:
        if svc not in services:
            raise InvalidTopology(f"{where}.consumers: unknown service {svc!r}; services are: {', '.join(sorted(services))}")
    if len(set(consumers)) != len(consumers):
        raise InvalidTopology(f"{where}.consumers: {consumers!r} names a service twice")
    fields: dict[str, Any] = {"journeys": tuple(_str_list(c, "journeys", where))}
    if kind == "http":
        service = _str(c, "service", where)
        if service not in services:
            raise InvalidTopology(f"{where}.service: unknown service {service!r}; services are: {', '.join(sorted(services))}")
        fields["service"] = service
    elif not consumers:
        raise InvalidTopology(f"{where}.consumers: name the services that read this config, e.g. "
                              f"consumers = [\"{sorted(services)[0]}\"]; their journeys are a push's blast radius")
    if kind == "file":
        path = _str(c, "path", where)
        allow = c.get("allow_outside", False)
        if not isinstance(allow, bool):
            raise InvalidTopology(f"{where}.allow_outside: must be true or false, got {allow!r}")
        if "\0" in path:
            raise InvalidTopology(f"{where}.path: {path!r} contains a NUL byte")
        if not allow:
            inside = _lexically_inside(Path(path), root)
            if not inside:
                raise InvalidTopology(f"{where}.path: {path!r} is outside the topology's folder {str(root)!r}; "
                                      "move the file under it, or set allow_outside = true to write there on purpose")
        container_path = _str(c, "container_path", where, default="")
        if container_path and not container_path.startswith("/"):
            raise InvalidTopology(f"{where}.container_path: must be an absolute path inside the container, "
                                  f"got {container_path!r}")
        default_format = _FORMAT_BY_SUFFIX.get(Path(path).suffix.lower(), "raw")
        fields.update(path=path, container_path=container_path, allow_outside=allow,
                      format=_config_format(c, where, default_format))
    if kind == "env":
        var = _str(c, "var", where)
        if not _ENV.match(var):
            raise InvalidTopology(f"{where}.var: {var!r} is not an environment variable name")
        if len(consumers) != 1:
            raise InvalidTopology(f"{where}.consumers: an env source is a variable of one service, got {consumers!r}; "
                                  "declare one [config.X] per service")
        fields.update(var=var, reload="restart")
    if kind == "etcd":
        endpoints = _str(c, "endpoints", where)
        m = re.fullmatch(r"http://(\{([a-z][a-z0-9_-]*)\}|127\.\d+\.\d+\.\d+:\d+|localhost:\d+)", endpoints)
        if not m:
            raise InvalidTopology(f"{where}.endpoints: {endpoints!r} must be \"http://{{service}}\" (an etcd service of "
                                  "this topology) or \"http://127.0.0.1:PORT\"")
        if m.group(2) and m.group(2) not in services:
            raise InvalidTopology(f"{where}.endpoints: unknown service {m.group(2)!r}; services are: "
                                  f"{', '.join(sorted(services))}")
        key = _str(c, "key", where)
        if not re.fullmatch(r"[\w./:-]+", key):
            raise InvalidTopology(f"{where}.key: {key!r} is not a plain etcd key like \"/chirp/flags\"")
        fields.update(endpoints=endpoints, key=key, format=_config_format(c, where, "json"))
    if kind in ("file", "etcd"):
        fields["reload"] = _config_reload(c, where)
    if kind != "http":
        fields["applied"] = _config_applied(c, where)
    return ConfigSourceSpec(name=name, kind=kind, consumers=tuple(consumers), **fields)


def _lexically_inside(path: Path, root: Path) -> bool:
    """Whether `path` (relative to `root` unless absolute) stays under `root` once `..` is folded (no I/O)."""
    import os.path

    full = os.path.abspath(path if path.is_absolute() else root / path)
    base = os.path.abspath(root)
    return full == base or full.startswith(base.rstrip("/") + "/")


def _config_format(c: Mapping[str, Any], where: str, default: str) -> str:
    fmt = _str(c, "format", where, default=default)
    if fmt not in CONFIG_FORMATS:
        raise InvalidTopology(f"{where}.format: {fmt!r} is not one of {', '.join(CONFIG_FORMATS)}")
    return fmt


def _config_reload(c: Mapping[str, Any], where: str) -> str:
    reload = _str(c, "reload", where, default="watch")
    if reload in ("watch", "restart"):
        return reload
    if reload.startswith("signal:"):
        sig = reload[7:].upper().removeprefix("SIG")
        if sig not in _SIGNALS:
            raise InvalidTopology(f"{where}.reload: {reload!r} names no signal Cascade sends; use signal:"
                                  + " or signal:".join(_SIGNALS))
        return f"signal:{sig}"
    m = re.fullmatch(r"http:(GET|POST|PUT) (/\S*)", reload)
    if m:
        return reload
    raise InvalidTopology(f"{where}.reload: {reload!r} is not one of \"watch\", \"signal:HUP\", \"restart\", "
                          "\"http:POST /reload\"")


def _config_applied(c: Mapping[str, Any], where: str) -> dict[str, Any]:
    applied = dict(_table(c, "applied", where, required=False))
    awhere = f"{where}.applied"
    _only(applied, awhere, {"within_ms", "log", "rejected", "http"})
    if "within_ms" in applied:
        ms = applied["within_ms"]
        if isinstance(ms, bool) or not isinstance(ms, int) or not 0 < ms <= 600_000:
            raise InvalidTopology(f"{awhere}.within_ms: must be a whole number of milliseconds in (0, 600000], got {ms!r}")
    for key in ("log", "rejected"):
        if key in applied:
            pattern = _str(applied, key, awhere)
            try:
                re.compile(pattern)
            except re.error as exc:
                raise InvalidTopology(f"{awhere}.{key}: {pattern!r} is not a regular expression ({exc})") from None
    if "rejected" in applied and "log" not in applied:
        raise InvalidTopology(f"{awhere}.rejected: needs log = \"regex\" too (the line that says it applied)")
    if "http" in applied:
        req = _str(applied, "http", awhere)
        if not re.fullmatch(r"GET /\S*", req):
            raise InvalidTopology(f"{awhere}.http: {req!r} must be \"GET /path\", a path each consumer answers "
                                  "with the config's sha256 or version")
    if "log" in applied and "http" in applied:
        raise InvalidTopology(f"{awhere}: declare log or http, not both")
    return applied


def _service(name: str, s: Any) -> Service:
    where = f"services.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidTopology(f"{where}: service names are lowercase letters, digits, _ or - (got {name!r})")
    if not isinstance(s, Mapping):
        raise InvalidTopology(f"{where}: must be a table, got {s!r}")
    _only(s, where, {"command", "health", "port_env", "env", "start_timeout_s", "compose_service", "container_port"})
    command = _str_list(s, "command", where)
    health = _str(s, "health", where, default="/health")
    if health != "tcp" and not health.startswith("/"):
        raise InvalidTopology(f"{where}.health: must be an HTTP path like '/health' or 'tcp', got {health!r}")
    port_env = _str(s, "port_env", where, default="PORT")
    if not _ENV.match(port_env):
        raise InvalidTopology(f"{where}.port_env: {port_env!r} is not an environment variable name")
    timeout = s.get("start_timeout_s", 10.0)
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= 600:
        raise InvalidTopology(f"{where}.start_timeout_s: must be a number in (0, 600], got {timeout!r}")
    cport = s.get("container_port", 8000)
    if isinstance(cport, bool) or not isinstance(cport, int) or not 0 < cport < 65536:
        raise InvalidTopology(f"{where}.container_port: must be a port number, got {cport!r}")
    return Service(
        name=name,
        command=tuple(command),
        health=health,
        port_env=port_env,
        env=_env_table(s, "env", where),
        start_timeout_s=float(timeout),
        compose_service=_str(s, "compose_service", where, default=name),
        container_port=cport,
    )


def _edge(key: str, e: Any, services: Mapping[str, Service]) -> Edge:
    where = f"edges.{key!r}"
    try:
        caller, callee = parse_edge_name(key)
    except InvalidTopology as exc:
        raise InvalidTopology(f"{where}: {exc}") from None
    for svc in (caller, callee):
        if svc not in services:
            raise InvalidTopology(
                f"{where}: unknown service {svc!r}; services are: {', '.join(sorted(services))}"
            )
    if caller == callee:
        raise InvalidTopology(f"{where}: a service cannot depend on itself")
    if not isinstance(e, Mapping):
        raise InvalidTopology(f"{where}: must be a table like {{ env = \"MEDIA_URL\" }}, got {e!r}")
    _only(e, where, {"env", "url", "protocol"})
    env = _str(e, "env", where)
    if not _ENV.match(env):
        raise InvalidTopology(f"{where}.env: {env!r} is not an environment variable name")
    url = _str(e, "url", where, default="http://{host}:{port}")
    try:
        url.format(host="h", port=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise InvalidTopology(f"{where}.url: bad template {url!r} ({exc}); use {{host}} and {{port}}") from None
    if "{port}" not in url:
        raise InvalidTopology(f"{where}.url: template {url!r} must contain {{port}}")
    protocol = _str(e, "protocol", where, default="")
    if protocol not in ("", *PROTOCOLS):
        raise InvalidTopology(f"{where}.protocol: {protocol!r} is not one of {', '.join(PROTOCOLS)}; "
                              "\"http\" puts the edge behind the HTTP engine (HTTP faults), \"tcp\" keeps it TCP-only")
    return Edge(caller=caller, callee=callee, env=env, url=url, protocol=protocol)


def _journey(name: str, j: Any, services: Mapping[str, Service], edges: Mapping[str, Edge]) -> Journey:
    where = f"journeys.{name}"
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidTopology(f"{where}: journey names are lowercase letters, digits, _ or - (got {name!r})")
    if not isinstance(j, Mapping):
        raise InvalidTopology(f"{where}: must be a table, got {j!r}")
    _only(j, where, {"service", "method", "path", "headers", "json", "edges", "budget_ms",
                     "expect_status", "expect_body", "degraded_body", "contracts", "description", "readback",
                     "allow_leaks", "at_rest"})
    service = _str(j, "service", where)
    if service not in services:
        raise InvalidTopology(f"{where}.service: unknown service {service!r}; services are: {', '.join(sorted(services))}")
    if not services[service].http:
        raise InvalidTopology(f"{where}.service: {service!r} is checked over raw TCP; a journey needs an HTTP service")
    method = _str(j, "method", where, default="GET").upper()
    if method not in _METHODS:
        raise InvalidTopology(f"{where}.method: {method!r} is not one of {', '.join(sorted(_METHODS))}")
    path = _str(j, "path", where)
    if not path.startswith("/"):
        raise InvalidTopology(f"{where}.path: must start with '/', got {path!r}")
    crossed = []
    for raw in _str_list(j, "edges", where):
        try:
            a, b = parse_edge_name(raw)
        except InvalidTopology as exc:
            raise InvalidTopology(f"{where}.edges: {exc}") from None
        if f"{a}->{b}" not in edges:
            raise InvalidTopology(f"{where}.edges: unknown edge {raw!r}; edges are: {', '.join(sorted(edges))}")
        crossed.append(f"{a}->{b}")
    budget = j.get("budget_ms")
    if isinstance(budget, bool) or not isinstance(budget, int) or not 0 < budget <= 600_000:
        raise InvalidTopology(f"{where}.budget_ms: must be a whole number of milliseconds in (0, 600000], got {budget!r}")
    status = j.get("expect_status", [200])
    if isinstance(status, int) and not isinstance(status, bool):
        status = [status]
    if (not isinstance(status, list) or not status
            or any(isinstance(x, bool) or not isinstance(x, int) or not 100 <= x <= 599 for x in status)):
        raise InvalidTopology(f"{where}.expect_status: must be an HTTP status or a list of them, got {status!r}")
    contracts: dict[str, frozenset[str]] = {}
    for target, verdicts in _table(j, "contracts", where, required=False).items():
        cwhere = f"{where}.contracts.{target!r}"
        if target not in services:
            try:
                a, b = parse_edge_name(target)
            except InvalidTopology:
                a = b = ""
            if f"{a}->{b}" not in edges:
                raise InvalidTopology(f"{cwhere}: not an edge or a service of this topology")
            target = f"{a}->{b}"
        vs = _str_list({"v": verdicts}, "v", cwhere)
        bad = [v for v in vs if v not in VERDICTS]
        if bad:
            raise InvalidTopology(f"{cwhere}: unknown verdict {bad[0]!r}; verdicts are: {', '.join(VERDICTS)}")
        never = NEVER_ACCEPTABLE.intersection(vs)
        if never:
            raise InvalidTopology(f"{cwhere}: {sorted(never)[0]!r} is never an acceptable verdict")
        contracts[target] = frozenset(vs)
    allow_leaks = j.get("allow_leaks", False)
    if not isinstance(allow_leaks, bool):
        raise InvalidTopology(f"{where}.allow_leaks: must be true or false, got {allow_leaks!r}")
    at_rest = _str(j, "at_rest", where, default="full")
    if at_rest not in AT_REST_VERDICTS:
        raise InvalidTopology(f"{where}.at_rest: {at_rest!r} is not a verdict a journey may answer before any fault; "
                              f"use {' or '.join(repr(v) for v in AT_REST_VERDICTS)} (default 'full')")
    readback = None
    if "readback" in j:
        rb = _table(j, "readback", where)
        rwhere = f"{where}.readback"
        _only(rb, rwhere, {"service", "path", "id_field"})
        rservice = _str(rb, "service", rwhere)
        if rservice not in services or not services[rservice].http:
            raise InvalidTopology(f"{rwhere}.service: {rservice!r} is not an HTTP service of this topology")
        rpath = _str(rb, "path", rwhere)
        if not rpath.startswith("/") or "{id}" not in rpath:
            raise InvalidTopology(f"{rwhere}.path: must start with '/' and contain {{id}}, got {rpath!r}")
        readback = Readback(rservice, rpath, _str(rb, "id_field", rwhere, default="id"))
    return Journey(
        name=name,
        service=service,
        path=path,
        edges=tuple(crossed),
        budget_ms=budget,
        method=method,
        headers=_env_table(j, "headers", where, keys=None),
        json=j.get("json"),
        expect_status=tuple(status),
        expect_body=_str(j, "expect_body", where, default=""),
        degraded_body=_regex(j, "degraded_body", where),
        contracts=contracts,
        description=_str(j, "description", where, default=""),
        readback=readback,
        allow_leaks=allow_leaks,
        at_rest=at_rest,
    )


def _regex(t: Mapping[str, Any], key: str, where: str) -> str:
    pattern = _str(t, key, where, default="")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidTopology(f"{where}.{key}: {pattern!r} is not a regular expression ({exc}); "
                              "write a Python regular expression, with \\ before any of .^$*+?()[]{}| meant literally") from None
    return pattern


def _check_env_collisions(edges: Mapping[str, Edge], services: Mapping[str, Service]) -> None:
    seen: dict[tuple[str, str], str] = {}
    for e in edges.values():
        key = (e.caller, e.env)
        if key in seen:
            raise InvalidTopology(
                f"edges.{e.name!r}.env: {e.env!r} is already used by edge {seen[key]!r}; each edge of a caller needs its own variable"
            )
        if e.env == services[e.caller].port_env:
            raise InvalidTopology(f"edges.{e.name!r}.env: {e.env!r} is {e.caller}'s own port variable")
        seen[key] = e.name


def _check_acyclic(edges: Mapping[str, Edge]) -> None:
    graph: dict[str, list[str]] = {}
    for e in edges.values():
        graph.setdefault(e.caller, []).append(e.callee)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = path[path.index(nxt):] + [node, nxt] if nxt in path else [node, nxt]
                raise InvalidTopology(f"edges: dependency cycle {' -> '.join(cycle)}; edges must form a DAG")
            if nxt not in state:
                visit(nxt, path + [node])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


# -- small typed readers ---------------------------------------------------


def _only(table: Mapping[str, Any], where: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            raise InvalidTopology(f"{where}: unknown field {key!r}; allowed: {', '.join(sorted(allowed))}")


def _table(table: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> Mapping[str, Any]:
    value = table.get(key)
    if value is None:
        if required:
            raise InvalidTopology(f"{where}: missing [{key}] table")
        return {}
    if not isinstance(value, Mapping):
        raise InvalidTopology(f"{where}.{key}: must be a table, got {value!r}")
    return value


def _str(table: Mapping[str, Any], key: str, where: str, *, default: str | None = None) -> str:
    if key not in table and default is not None:
        return default  # optional fields may default to ""
    value = table.get(key)
    if value is None:
        raise InvalidTopology(f"{where}: missing field {key!r}")
    if not isinstance(value, str) or not value:
        raise InvalidTopology(f"{where}.{key}: must be a non-empty string, got {value!r}")
    return value


def _str_list(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise InvalidTopology(f"{where}.{key}: must be a list of strings, got {value!r}")
    return list(value)


def _env_table(table: Mapping[str, Any], key: str, where: str, *, keys: re.Pattern[str] | None = _ENV) -> dict[str, str]:
    value = _table(table, key, where, required=False)
    out = {}
    for k, v in value.items():
        if keys is not None and not keys.match(k):
            raise InvalidTopology(f"{where}.{key}: {k!r} is not an environment variable name")
        if not isinstance(v, str):
            raise InvalidTopology(f"{where}.{key}.{k}: values must be strings, got {v!r}")
        out[k] = v
    return out


def _plain(topo: Topology) -> dict[str, Any]:
    return {
        "name": topo.name,
        "knobs": topo.knobs,
        **({"knobs_env": topo.knobs_env} if topo.knobs_env else {}),
        **({"explore_config": dict(topo.explore_config)} if topo.explore_config else {}),
        # Only when not the default, so the digests of topologies written before these keys stay the same.
        **({"config_source": topo.config_source} if topo.config_source != "http" else {}),
        **({"config_apply_s": topo.config_apply_s} if topo.config_apply_s != CONFIG_APPLY_S else {}),
        **({"config": {n: {k: v for k, v in vars(c).items() if v not in ("", (), {}, False)}
                       for n, c in sorted(topo.config_sources.items())}}
           if any(c.kind != "http" or c.name != c.service for c in topo.config_sources.values()) else {}),
        "services": {n: vars(s) for n, s in sorted(topo.services.items())},
        "edges": {n: vars(e) for n, e in sorted(topo.edges.items())},
        "journeys": {
            n: {**{k: v for k, v in vars(j).items()
                   if not (k == "at_rest" and v == "full") and not (k == "degraded_body" and not v)},
                "contracts": {k: sorted(v) for k, v in j.contracts.items()},
                "readback": vars(j.readback) if j.readback else None}
            for n, j in sorted(topo.journeys.items())
        },
    }
