"""`cascade init`: a topology draft from a compose file (pure: a parsed compose mapping in, TOML text and notes out).

    compose.yaml ──yaml (anchors, merge keys; x- extensions ignored)──> services
        each service  ──> [services.NAME]   container_port (ports, expose, the healthcheck URL, a PORT
                                            variable), health (the healthcheck's HTTP path, else "tcp"
                                            for a datastore image or a service with no HTTP check)
        each variable ──> [edges."caller->callee"] when its value names another service of the file:
            http://pricing:8000            url = "http://{host}:{port}"
            postgresql://shop@db/shop      url = "postgresql://shop@{host}:{port}/shop"   (port: the scheme's)
            redis://redis:6379/0           url = "redis://{host}:{port}/0"
            db:5432                        url = "{host}:{port}"

What it cannot infer (a variable naming a service with no port, two variables of one caller
naming one callee, an edge closing a cycle, a service name the topology cannot take as it is)
and what is left to declare (journeys, budgets, local commands) come back as notes; the draft
loads and validates as it is (`Topology.from_dict`).
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .errors import UsageError

__all__ = ["DEFAULT_PORTS", "Draft", "draft_from_compose", "load_compose"]

DEFAULT_PORTS = {"http": 80, "https": 443, "postgres": 5432, "postgresql": 5432, "redis": 6379, "rediss": 6379,
                 "mysql": 3306, "mariadb": 3306, "mongodb": 27017, "amqp": 5672, "nats": 4222, "etcd": 2379}
DATASTORE_IMAGES = ("postgres", "redis", "mysql", "mariadb", "mongo", "rabbitmq", "memcached", "etcd", "nats",
                    "zookeeper", "kafka", "cassandra", "elasticsearch", "minio")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
_ENV = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_URL = re.compile(r"^(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<auth>[^@/?#]*@)?(?P<host>[A-Za-z0-9_.-]+)(?::(?P<port>\d+))?"
                  r"(?P<rest>[/?#].*)?$")
_HOSTPORT = re.compile(r"^(?P<host>[A-Za-z0-9_.-]+):(?P<port>\d+)$")
_HEALTH_URL = re.compile(r"https?://(?:localhost|127\.0\.0\.1|0\.0\.0\.0|\[::1\])(?::(?P<port>\d+))?(?P<path>/[^\s'\"]*)?")


@dataclass
class Draft:
    """The topology text, and what `cascade init` could not infer or leaves to the user."""

    toml: str
    services: dict[str, dict[str, Any]]
    edges: dict[str, dict[str, str]]
    not_inferred: list[str] = field(default_factory=list)
    to_declare: list[str] = field(default_factory=list)


def load_compose(path: Path) -> Mapping[str, Any]:
    """The compose file as a mapping (YAML anchors and merge keys resolved), or UsageError naming the problem."""
    import yaml

    try:
        text = path.read_text()
    except OSError as exc:
        raise UsageError(f"cannot read compose file {str(path)!r}: {exc.strerror or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("services"), Mapping) or not data["services"]:
        raise UsageError(f"{path}: no services: a compose file has a top-level `services:` mapping")
    return data


def draft_from_compose(compose: Mapping[str, Any], *, compose_file: str = "compose.yaml", name: str = "",
                       env_files: Mapping[str, Mapping[str, str]] | None = None) -> Draft:
    """The draft for `compose` (a parsed compose file); `env_files` maps each env_file path to its variables."""
    services_raw = {str(k): v for k, v in compose["services"].items() if not str(k).startswith("x-")}
    names = {svc: _topology_name(svc) for svc in services_raw}
    notes: list[str] = []
    to_declare: list[str] = []
    services: dict[str, dict[str, Any]] = {}
    envs: dict[str, dict[str, str]] = {}
    for svc, spec in services_raw.items():
        spec = spec if isinstance(spec, Mapping) else {}
        envs[svc] = _environment(svc, spec, env_files or {}, notes)
        services[names[svc]] = _service(svc, spec, envs[svc], notes)
        if names[svc] != svc:
            services[names[svc]]["compose_service"] = svc
            notes.append(f"service {svc!r} is {names[svc]!r} in the topology (lowercase letters, digits, _ and -); "
                         f"compose_service keeps its compose name")
    edges: dict[str, dict[str, str]] = {}
    reached: list[tuple[str, str, str, int]] = []  # (caller, variable, callee, port) of every edge drafted
    for caller in services_raw:
        for var, value in sorted(envs[caller].items()):
            found = _edge(value, set(services_raw) - {caller})
            if found is None:
                if value in services_raw and value != caller:
                    notes.append(f"{caller}: {var}={value} names service {value!r} without a port; declare "
                                 f"[edges.\"{names[caller]}->{names[value]}\"] by hand with the variable that carries "
                                 "its address")
                continue
            callee, url, port = found
            key = f"{names[caller]}->{names[callee]}"
            if not _ENV.match(var):
                notes.append(f"{caller}: {var} names {callee} but is not a variable name the topology takes; skipped")
                continue
            if key in edges:
                notes.append(f"{caller}: {var} also names {callee}; the edge {key} is carried by "
                             f"{edges[key]['env']} (one variable per edge): {var} is left out")
                continue
            if _closes_cycle(edges, names[caller], names[callee]):
                notes.append(f"{caller}: {var} names {callee}, which would close a cycle of edges; left out "
                             "(a topology's edges form a DAG)")
                continue
            edges[key] = {"env": var, "url": url}  # not http://: a TCP edge (the topology infers it from the url)
            if url == "{host}:{port}" and _speaks_http(services[names[callee]]):
                edges[key]["protocol"] = "http"  # a bare address of a service whose healthcheck is HTTP
            reached.append((caller, var, callee, port))
    for caller, var, callee, port in reached:
        svc = services[names[callee]]
        if "container_port" not in svc:  # nothing in the file said: the port its callers use is the one
            svc["container_port"] = port
            notes.append(f"{callee}: container_port = {port} taken from {caller}'s {var} (nothing else in the file "
                         "gives its port); check it")
        elif port != svc["container_port"]:
            notes.append(f"{caller}: {var} reaches {callee} on port {port}, but its container_port is "
                         f"{svc['container_port']}; set services.{names[callee]}.container_port = {port} if that is "
                         "the one")
    notes += [f"{svc}: no port in ports, expose, its healthcheck or PORT; container_port left at 8000"
              for svc in services_raw if "container_port" not in services[names[svc]]]
    for key, edge in edges.items():
        if edge["url"] == "{host}:{port}" and "protocol" not in edge:
            notes.append(f"{key}: {edge['env']} is a bare host:port, drafted as a TCP edge; if "
                         f"{key.split('->')[1]} speaks HTTP there, add protocol = \"http\" (HTTP faults need it)")
    to_declare.append("journeys: the user-visible requests to check, e.g. [journeys.checkout] with service, path, "
                      "the edges it crosses and budget_ms (docs/topology.md)")
    to_declare.append("services.*.command, to run the same system on the local runtime (this draft runs on "
                      "compose: cascade run --runtime compose)")
    if any(s.get("health") == "/health" and s.get("guessed_health") for s in services.values()):
        to_declare.append("health for the services marked 'guessed': the path that answers 200 once the "
                          "service is ready, or \"tcp\"")
    name = name or "system"
    return Draft(_render(name, compose_file, services, edges, services_raw), services, edges, notes, to_declare)


def _topology_name(svc: str) -> str:
    if _NAME.match(svc):
        return svc
    cleaned = re.sub(r"[^a-z0-9_-]+", "-", svc.lower()).strip("-") or "service"
    if not cleaned[0].isalpha():
        cleaned = f"s-{cleaned}"
    return cleaned[:40]


def _environment(svc: str, spec: Mapping[str, Any], env_files: Mapping[str, Mapping[str, str]],
                 notes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    files = spec.get("env_file") or []
    for entry in [files] if isinstance(files, (str, Mapping)) else files:
        path = entry.get("path") if isinstance(entry, Mapping) else entry
        if path in env_files:
            out.update(env_files[path])
        else:
            notes.append(f"{svc}: env_file {path!r} could not be read; its variables are not looked at")
    env = spec.get("environment") or {}
    if isinstance(env, Mapping):
        out.update({str(k): "" if v is None else str(v) for k, v in env.items()})
    elif isinstance(env, list):
        for item in env:
            key, eq, value = str(item).partition("=")
            out[key] = value if eq else ""
    return out


def _service(svc: str, spec: Mapping[str, Any], env: Mapping[str, str], notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    image = str(spec.get("image", ""))
    health_port, health_path, health_known = _healthcheck(spec.get("healthcheck"))
    port = _container_port(spec) or health_port
    if port is None and env.get("PORT", "").isdecimal():
        port = int(env["PORT"])
    datastore = any(word in image.lower() for word in DATASTORE_IMAGES)
    if port is None and datastore:
        port = next((p for word, p in DEFAULT_PORTS.items() if word in image.lower()), None)
    if port is not None:  # else the edges reaching it may give one (draft_from_compose)
        out["container_port"] = port
    if health_path is not None:
        out["health"] = health_path
    elif datastore or (health_known and health_path is None):
        out["health"] = "tcp"
    else:
        out["health"] = "/health"
        out["guessed_health"] = True
        notes.append(f"{svc}: no HTTP healthcheck; health = \"/health\" is a guess (or \"tcp\" if it speaks no HTTP)")
    return out


def _speaks_http(service: Mapping[str, Any]) -> bool:
    """Whether the compose file shows the service answering HTTP: an HTTP healthcheck, not a guessed one."""
    return str(service.get("health", "")).startswith("/") and not service.get("guessed_health")


def _container_port(spec: Mapping[str, Any]) -> int | None:
    for entry in spec.get("ports") or []:
        if isinstance(entry, Mapping):
            target = entry.get("target")
            if isinstance(target, int) or str(target).isdecimal():
                return int(target)
            continue
        text = str(entry).split("/", 1)[0]  # "127.0.0.1:8080:80/tcp" -> the container side is last
        last = text.rsplit(":", 1)[-1]
        if last.isdecimal():
            return int(last)
        if "-" in last and last.split("-")[0].isdecimal():
            return int(last.split("-")[0])
    for entry in spec.get("expose") or []:
        text = str(entry).split("/", 1)[0]
        if text.isdecimal():
            return int(text)
    return None


def _healthcheck(check: Any) -> tuple[int | None, str | None, bool]:
    """(port, HTTP path, whether a healthcheck is declared) from a compose healthcheck."""
    if not isinstance(check, Mapping) or check.get("disable"):
        return None, None, False
    test = check.get("test")
    text = " ".join(map(str, test)) if isinstance(test, list) else str(test or "")
    m = _HEALTH_URL.search(text)
    if m is None:
        return None, None, bool(text)
    return (int(m.group("port")) if m.group("port") else None), (m.group("path") or "/"), True


def _edge(value: str, others: set[str]) -> tuple[str, str, int] | None:
    """(callee, url template, port) when `value` addresses one of `others`, else None."""
    value = value.strip()
    m = _URL.match(value)
    if m and m.group("host") in others:
        scheme = m.group("scheme")
        port = int(m.group("port")) if m.group("port") else DEFAULT_PORTS.get(scheme.split("+")[0])
        if port is None:
            return None
        template = f"{scheme}://{m.group('auth') or ''}{{host}}:{{port}}{m.group('rest') or ''}"
        return m.group("host"), template, port
    m = _HOSTPORT.match(value)
    if m and m.group("host") in others:
        return m.group("host"), "{host}:{port}", int(m.group("port"))
    return None


def _closes_cycle(edges: Mapping[str, Any], caller: str, callee: str) -> bool:
    graph: dict[str, set[str]] = {}
    for key in edges:
        a, b = key.split("->")
        graph.setdefault(a, set()).add(b)
    seen, stack = set(), [callee]
    while stack:
        node = stack.pop()
        if node == caller:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return False


def _render(name: str, compose_file: str, services: Mapping[str, dict[str, Any]], edges: Mapping[str, Any],
            raw: Mapping[str, Any]) -> str:
    q = json.dumps  # a JSON string is a TOML basic string
    lines = [
        f"# Drafted by `cascade init` from {compose_file}: check each value, then declare journeys.",
        "# Reference: docs/topology.md. Edges were found in environment variables naming another service.",
        "",
        "[mesh]",
        f"name = {q(name)}",
        f"compose_file = {q(compose_file)}",
        "",
    ]
    for n, s in services.items():
        lines.append(f"[services.{n}]")
        if "compose_service" in s:
            lines.append(f"compose_service = {q(s['compose_service'])}")
        if "container_port" in s:
            lines.append(f"container_port = {s['container_port']}")
        guess = "  # guessed: no HTTP healthcheck in the compose file" if s.get("guessed_health") else ""
        lines.append(f"health = {q(s['health'])}{guess}")
        command = raw.get(s.get("compose_service", n), {}) or {}
        if isinstance(command, Mapping) and command.get("command"):
            cmd = command["command"]
            shown = shlex.join(map(str, cmd)) if isinstance(cmd, list) else str(cmd)
            lines.append(f"# in compose: {shown}  (add command = [...] to run it on the local runtime)")
        lines.append("")
    for key, e in edges.items():
        lines.append(f"[edges.{q(key)}]")
        lines.append(f"env = {q(e['env'])}")
        if e["url"] != "http://{host}:{port}":
            lines.append(f"url = {q(e['url'])}")
        if "protocol" in e:
            lines.append(f"protocol = {q(e['protocol'])}  # {e['url']} carries HTTP: its callee's healthcheck is HTTP")
        lines.append("")
    lines += ["# [journeys.NAME]: left to declare (service, path, edges, budget_ms; docs/topology.md)", ""]
    return "\n".join(lines)
