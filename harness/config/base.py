"""The config-source extension point: one interface, a registry by kind, and the wait for consumers to apply a version.

    topology [config.NAME] kind = "file" ──> make_config_source("file", mesh, spec) ──> a ConfigSource
    topology [mesh] config_source = "http" (no [config] tables) ──> make_config_source("http", mesh)
    BadConfig / explore_config ──> source.push(raw) ... source.rollback(before, expect_raw=...)
                                   await_applied(source, version): every consumer runs it, or the declared wait

A new kind is one module beside this one that registers a factory taking the mesh and, when the
topology declares the source in a [config.NAME] table, its ConfigSourceSpec:

    @register_config_source("file")
    def file_source(mesh: Mesh, spec: ConfigSourceSpec | None = None) -> ConfigSource: ...

and its tests; nothing else branches on a source's name.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping, Protocol, TypeVar, runtime_checkable

from ..builtins import same_definition
from ..errors import MeshError, UsageError

if TYPE_CHECKING:
    from ..clients.probe import Response
    from ..topology import ConfigSourceSpec, Topology

__all__ = [
    "Applied",
    "CONFIG_SOURCES",
    "ConfigSource",
    "ConfigVersion",
    "SourceFactory",
    "await_applied",
    "make_config_source",
    "register_config_source",
]


class Mesh(Protocol):
    """What a config source and the applied-version protocol need of a mesh (`harness.mesh.Mesh` is one).

    Named here so this package never imports the mesh that builds its sources.
    """

    topology: Topology
    runtime: Any  # its `secret` authenticates pushes to the bundled config service

    def address(self, service: str) -> tuple[str, int]:
        """Where `service` answers HTTP."""
        ...

    def request(self, service: str, method: str = "GET", path: str = "/", **kw: Any) -> Response:
        """One timed HTTP request straight to `service`."""
        ...


APPLY_POLL_S = 0.05  # between two readings of the consumers while waiting for a version
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class ConfigVersion:
    """One version of the config document as the source reports it."""

    version: int
    raw: str
    document: Any


@dataclass(frozen=True)
class Applied:
    """How the config's consumers stand on one version, as far as the harness can know."""

    version: int
    running: tuple[str, ...] = ()  # run `version` (or a later one)
    behind: Mapping[str, int] = field(default_factory=dict)  # service -> the earlier version it still runs
    rejected: tuple[str, ...] = ()  # were offered `version` and refused it (kept an earlier one)
    unknown: Mapping[str, str] = field(default_factory=dict)  # service -> why the harness cannot know
    # how it is known: "observed" (the consumers said so: a version, a log line, an HTTP answer, a
    # restart that became healthy) or "waited" (only the declared applied.within_ms passed)
    evidence: str = "observed"

    @property
    def settled(self) -> bool:
        """True when every consumer that can say runs the version and none is left to ask."""
        return not self.behind and not self.unknown and not self.rejected


@runtime_checkable
class ConfigSource(Protocol):
    """Where a mesh's services read their config from; what BadConfig and explore_config push through.

    Versions are integers that only grow: a push and a rollback each make a new current version.
    Every write is verified by reading it back, and raises ConfigPushError (the source refused or
    did not answer) or VerificationFailed (it accepted, but serves something else).
    """

    def current(self) -> ConfigVersion:
        """The version served now: its number, its raw text and its parsed document (None if not JSON)."""
        ...

    def push(self, raw: str, *, note: str = "") -> int:
        """Store `raw` (any text, valid or not) as the new current version, noting why; verified; its number."""
        ...

    def rollback(self, to_version: int, *, expect_raw: str | None = None) -> int:
        """Serve version `to_version`'s text again as a new version (verified against `expect_raw`); its number."""
        ...

    def history(self) -> list[dict[str, Any]]:
        """Every version, oldest first: {"version", "note", "at", "sha256", "bytes"} as far as the source keeps them."""
        ...

    def applied(self, version: int) -> Applied:
        """Which consumers run `version` now, are behind, rejected it, or cannot say (one reading, no waiting)."""
        ...


SourceFactory = Callable[..., ConfigSource]  # factory(mesh) or factory(mesh, spec)
CONFIG_SOURCES: dict[str, SourceFactory] = {}  # name -> factory(mesh); filled by register_config_source

F = TypeVar("F", bound=SourceFactory)


def register_config_source(name: str) -> Callable[[F], F]:
    """Decorator: make `factory(mesh) -> ConfigSource` the config source a topology names `name`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(f"config source name {name!r} must be lowercase letters, digits, _ or - (like \"http\")")

    def register(factory: F) -> F:
        known = CONFIG_SOURCES.get(name)
        if known is not None and not same_definition(known, factory):
            raise UsageError(f"config source {name!r} is already registered ({known.__module__}.{known.__qualname__}); "
                             "pick another name")
        CONFIG_SOURCES[name] = factory
        return factory

    return register


def make_config_source(name: str, mesh: Mesh, spec: ConfigSourceSpec | None = None) -> ConfigSource:
    """The config source registered as `name`, built for `mesh` (and `spec`, a [config.X] table); UsageError naming the registered ones."""
    factory = CONFIG_SOURCES.get(name)
    if factory is None:
        raise UsageError(f"unknown config source {name!r} (topology [mesh] config_source); registered: "
                         f"{', '.join(sorted(CONFIG_SOURCES)) or '(none)'}; register one with "
                         "@harness.config.register_config_source(name)")
    source = factory(mesh) if spec is None else factory(mesh, spec)
    if not isinstance(source, ConfigSource):
        missing = [m for m in ("current", "push", "rollback", "history", "applied") if not hasattr(source, m)]
        raise UsageError(f"config source {name!r} built a {type(source).__name__} that lacks {', '.join(missing)}; "
                         "see harness.config.ConfigSource")
    return source


def await_applied(
    source: ConfigSource,
    version: int,
    *,
    within_s: float,
    why: str = "",
    log: Callable[[str], None] = lambda _line: None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Applied:
    """Block until every consumer runs `version`; where one cannot say, wait out `within_s` and log what is not known.

    Raises MeshError when a consumer rejects the version, or one that reports its version does
    not run it within `within_s` (the topology's mesh.config_apply_s).
    """
    deadline = clock() + within_s
    while True:
        a = source.applied(version)
        if a.rejected:
            raise MeshError(f"{', '.join(a.rejected)} rejected config version {version}"
                            + (f" ({why})" if why else "") + "; see its log")
        if not a.behind and not a.unknown:
            return a
        if clock() >= deadline:
            break
        sleep(APPLY_POLL_S)
    if a.behind:
        raise MeshError(f"config version {version} not running within {within_s:g} s (mesh.config_apply_s) on: "
                        + ", ".join(f"{s} (version {v})" for s, v in sorted(a.behind.items())))
    log(f"cannot know whether {', '.join(f'{s} ({w})' for s, w in sorted(a.unknown.items()))} applied config "
        f"version {version}; waited the declared mesh.config_apply_s = {within_s:g} s instead")
    return a
