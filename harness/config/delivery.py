"""How a change in a file, env or etcd source reaches its consumers: the reload, then the evidence it was applied.

    mark = LogMarks.take(mesh, spec)        before the write: where each consumer's log ends now
    ... the source writes the new content ...
    reload(mesh, spec)                      watch: nothing | signal:HUP | restart | http:POST /reload
    applied = await_consumers(mesh, spec, version, Evidence(sha256, revision), mark)

What `applied` (the [config.X] table's key) makes of it, per consumer:

    | applied              | running                                  | rejected                          | evidence |
    |----------------------|------------------------------------------|-----------------------------------|----------|
    | log = "re"           | a line matching `re` logged after the push | a line matching `rejected = "re"` | observed |
    | http = "GET /p"      | GET /p answers the new sha256 (its first   | still answers the previous sha256 | observed |
    |                      | 12 hex digits suffice) or etcd revision    | when the wait ends                |          |
    | reload = "restart"   | the restarted consumer became healthy      | it did not                        | observed |
    | within_ms = N alone  | nobody: after N ms each is `unknown`       | never known                       | waited   |

The wait ends at `within_ms` when given, else at the topology's mesh.config_apply_s. A consumer
that rejected a push, or is still behind when the wait ends, is a result (`Applied.rejected`,
`Applied.behind`) for the scenario to assert on, never an exception: a push the consumer kept out
is the graceful outcome a test wants to see.
"""

from __future__ import annotations

import contextlib
import json
import re
import signal as signal_module
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from ..errors import ConfigPushError, MeshError, MeshNotReady
from .base import Applied

if TYPE_CHECKING:
    from ..topology import ConfigSourceSpec
    from .base import Mesh

__all__ = ["Evidence", "LogMarks", "await_consumers", "reload"]

# Between two looks at the consumers: a log file read or one local HTTP request is cheap, and every
# 50 ms cost a consumer that reloads at once (a signal, a reload request) up to 50 ms per push and
# revert (bench/bench_config.py: nginx on SIGHUP 309 ms per round at 50 ms).
POLL_S = 0.01


@dataclass(frozen=True)
class Evidence:
    """What a consumer that runs a version shows of it: the content's sha256, and (etcd) the key's revision."""

    sha256: str
    revision: int | None = None
    previous_sha256: str = ""

    def in_answer(self, body: str) -> bool:
        """Whether `body` names this content: its sha256 (12 hex digits suffice), or its revision as the whole
        body or under a JSON key containing "revision" or "version"."""
        if _names(body, self.sha256):
            return True
        if self.revision is None:
            return False
        if body.strip() == str(self.revision):
            return True
        try:
            answer = json.loads(body)
        except ValueError:
            return False
        return self.revision in _versions_in(answer)

    def previous_in_answer(self, body: str) -> bool:
        return bool(self.previous_sha256) and _names(body, self.previous_sha256)


def _versions_in(answer: Any) -> set[int]:
    """Every integer under a key naming a revision or version, at any depth."""
    found: set[int] = set()
    if isinstance(answer, dict):
        for k, v in answer.items():
            if isinstance(v, (int, str)) and not isinstance(v, bool) and re.search("revision|version", str(k), re.I):
                with contextlib.suppress(ValueError):
                    found.add(int(v))
            found |= _versions_in(v)
    elif isinstance(answer, list):
        for v in answer:
            found |= _versions_in(v)
    return found


def _names(body: str, sha: str) -> bool:
    body = body.lower()
    return sha in body or re.search(rf"(?<![0-9a-f]){sha[:12]}", body) is not None


class LogMarks:
    """Where each consumer's log ended before a push, to read only what it logged after."""

    def __init__(self, mesh: Mesh, consumers: tuple[str, ...], marks: dict[str, Any]) -> None:
        self.mesh, self.consumers, self.marks = mesh, consumers, marks

    @classmethod
    def take(cls, mesh: Mesh, spec: ConfigSourceSpec) -> LogMarks:
        if "log" not in spec.applied:
            return cls(mesh, spec.consumers, {})
        return cls(mesh, spec.consumers, {c: _log_mark(mesh, c) for c in spec.consumers})

    def since(self, service: str) -> list[str]:
        """The lines `service` logged after the mark (all of them on a restart that began a new log)."""
        return _log_since(self.mesh, service, self.marks[service])


def _log_mark(mesh: Mesh, service: str) -> Any:
    runtime = mesh.runtime
    if hasattr(runtime, "log_path"):
        try:
            return runtime.log_path(service).stat().st_size
        except OSError:
            return 0
    return time.time()  # a container's log: docker logs --since


def _log_since(mesh: Mesh, service: str, mark: Any) -> list[str]:
    runtime = mesh.runtime
    if hasattr(runtime, "log_path"):
        try:
            with open(runtime.log_path(service), "rb") as f:
                f.seek(mark)
                return f.read().decode(errors="replace").splitlines()
        except OSError:
            return []
    container = runtime.container(service)
    return container.logs(since=mark, stdout=True, stderr=True).decode(errors="replace").splitlines()


def reload(mesh: Mesh, spec: ConfigSourceSpec) -> None:
    """Make every consumer pick the new content up, as spec.reload says (watch: they do it themselves)."""
    if spec.reload == "watch":
        return
    for consumer in spec.consumers:
        if spec.reload == "restart":
            try:
                mesh.runtime.restart(consumer, ready=False)
            except MeshNotReady:
                pass  # it would not start with this config: await_consumers reports it behind

        elif spec.signal:
            signum = getattr(signal_module, f"SIG{spec.signal}")
            try:
                mesh.runtime.signal(consumer, signum)
            except MeshError as exc:
                raise ConfigPushError(f"config.{spec.name}: could not send SIG{spec.signal} to {consumer}: {exc}") from None
        else:
            method, path = spec.reload_request or ("POST", "/")
            r = mesh.request(consumer, method, path, timeout_s=5.0)
            if r.status is None or not 200 <= r.status < 300:
                raise ConfigPushError(f"config.{spec.name}: reload {method} {path} on {consumer} answered "
                                      f"{r.status if r.status is not None else r.error}; is that its reload endpoint?")


def await_consumers(mesh: Mesh, spec: ConfigSourceSpec, version: int, evidence: Evidence, marks: LogMarks, *,
                    clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Applied:
    """Wait until every consumer shows it applied `version` (or rejected it), at most the declared time; never raises."""
    wait_s = (spec.within_ms / 1000.0) if spec.within_ms is not None else mesh.topology.config_apply_s
    deadline = clock() + wait_s
    if not spec.observed:
        if spec.reload == "restart":
            starts = max(mesh.topology.service(c).start_timeout_s for c in spec.consumers)
            return _after_restart(mesh, spec, version, clock() + max(wait_s, starts), clock, sleep)
        sleep(wait_s)
        why = f"declared applied.within_ms = {spec.within_ms}: waited, not observed" if spec.within_ms is not None \
            else f"no [config.{spec.name}] applied declared: waited mesh.config_apply_s = {wait_s:g} s, not observed"
        return Applied(version, unknown={c: why for c in spec.consumers}, evidence="waited")
    running: set[str] = set()
    rejected: set[str] = set()
    last: dict[str, str] = {}
    while True:
        for consumer in spec.consumers:
            if consumer in running or consumer in rejected:
                continue
            state, seen = _look(mesh, spec, consumer, evidence, marks)
            last[consumer] = seen
            if state == "running":
                running.add(consumer)
            elif state == "rejected":
                rejected.add(consumer)
        if len(running) + len(rejected) == len(spec.consumers) or clock() >= deadline:
            break
        sleep(POLL_S)
    behind: dict[str, int] = {}
    unknown: dict[str, str] = {}
    for consumer in spec.consumers:
        if consumer in running or consumer in rejected:
            continue
        if "http" in spec.applied and evidence.previous_in_answer(last.get(consumer, "")):
            rejected.add(consumer)  # still serves the content before the push once the wait is over: kept it out
        elif "http" in spec.applied and last.get(consumer, "").startswith("no answer"):
            unknown[consumer] = last[consumer]
        else:
            behind[consumer] = version - 1
    return Applied(version, tuple(sorted(running)), behind, tuple(sorted(rejected)), unknown)


def _look(mesh: Mesh, spec: ConfigSourceSpec, consumer: str, evidence: Evidence, marks: LogMarks) -> tuple[str, str]:
    if "log" in spec.applied:
        lines = marks.since(consumer)
        rejected = spec.applied.get("rejected")
        for line in lines:
            if rejected and re.search(rejected, line):
                return "rejected", line
            if re.search(spec.applied["log"], line):
                return "running", line
        return "", "\n".join(lines[-3:])
    path = spec.applied["http"].split(" ", 1)[1]
    r = mesh.request(consumer, "GET", path, timeout_s=2.0)
    if r.status is None:
        return "", f"no answer to GET {path}: {r.error}"
    body = r.body.decode(errors="replace")
    return ("running" if evidence.in_answer(body) else ""), body


def _after_restart(mesh: Mesh, spec: ConfigSourceSpec, version: int, deadline: float,
                   clock: Callable[[], float], sleep: Callable[[float], None]) -> Applied:
    """Restarted consumers run the new content once healthy; one that is not by the deadline did not take it."""
    running, behind = [], {}
    for consumer in spec.consumers:
        while True:
            alive = mesh.runtime.is_running(consumer)
            healthy = alive and not mesh.runtime._health_error(consumer)
            if healthy or not alive or clock() >= deadline:
                break  # up, exited (it refused the config), or out of time
            sleep(POLL_S)
        if healthy:
            running.append(consumer)
        else:
            behind[consumer] = version - 1
    return Applied(version, tuple(running), behind)
