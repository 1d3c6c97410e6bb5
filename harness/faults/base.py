"""The fault-kind extension point: the interface every kind implements, and the registry that is the only dispatch.

    FAULT_KINDS["latency"] ──> Latency ─┬─ parse:    from_spec(target, **params)     parse_fault, journals, CLI
                                        ├─ check:    validate(topology), targets()   Chaos, blast radius
                                        ├─ act:      apply(mesh) -> undo             Chaos (every step verified)
                                        ├─ drain:    drain_s(), closes_connections() Chaos before a removal
                                        ├─ explore:  draw(ctx), representative()     strategies, sweep
                                        └─ explain:  usage, describe()               `cascade inject --help`

A kind is one class: a frozen dataclass whose first field is its target (an edge, a service or a
form), deriving from `FaultKind` for the defaults below and registered with
`register_fault_kind`. Nothing else in the harness branches on kind names, so adding a kind is
one module and its tests (docs/architecture.md, "adding a fault kind").

The values stay pure: `apply` is the one method that acts, and it acts only through the `mesh`
it is handed (its Toxiproxy client, runtime and config source).
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, fields, is_dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Protocol, Sequence, runtime_checkable

from ..builtins import same_definition
from ..errors import InvalidFault, InvalidTopology

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..mesh import Mesh
    from ..topology import Topology

__all__ = [
    "DrawContext", "FAULT_KINDS", "Fault", "FaultKind", "ServiceFault", "Undo", "apply_fault", "check_service", "check_service_name",
    "fault_from_spec", "kinds_in_family", "param_names", "register_fault_kind", "unregister_fault_kind",
]  # fmt: skip

Undo = Callable[[], None]
"""A verified revert: raises (VerificationFailed, ToxiproxyError, ...) if the real state disagrees."""


@dataclass(frozen=True)
class DrawContext:
    """What exploration knows when it asks a kind for faults: the topology and the limits of this run."""

    topology: Topology
    horizon_ms: int
    """The largest journey budget: how long any generated delay may be."""
    config_document: Mapping[str, Any] | None = None
    """The config service's current document (None: config faults are not drawn)."""
    config_kinds: tuple[str, ...] | None = None
    """Which bad-config families to draw (None: all)."""
    http_edges: tuple[str, ...] | None = None
    """The edges the runtime's HTTP engine serves (None: every HTTP edge of the topology; (): none)."""
    config_documents: Mapping[str, Any] | None = None
    """Each [config.NAME]'s current content: its document (a mapping) or, unparsed, its text (None: use config_document)."""


@runtime_checkable
class Fault(Protocol):
    """What every fault value offers; all of it pure except `apply`, which acts through the mesh."""

    kind: ClassVar[str]
    category: ClassVar[str]

    @property
    def target(self) -> str: ...
    def describe(self) -> str: ...
    def params(self) -> dict[str, Any]: ...
    def validate(self, topology: Topology) -> None: ...
    def edges(self, topology: Topology) -> tuple[str, ...]: ...
    def services(self, topology: Topology) -> tuple[str, ...]: ...
    def targets(self, topology: Topology) -> tuple[str, ...]: ...
    def apply(self, mesh: Mesh) -> Undo: ...
    def drain_s(self) -> float: ...
    def closes_connections(self, edge: str) -> bool: ...
    def exclusive_key(self, config_service: str | None = None) -> tuple[str, str]: ...


class FaultKind:
    """Defaults for a fault kind; a kind overrides what differs. Its instances satisfy `Fault`."""

    kind: ClassVar[str] = ""
    """The registry name: what `parse_fault`, the CLI and journals call it (lower_snake_case)."""
    category: ClassVar[str] = ""
    """network | process | config | ...: what the fault acts on (reports group by it)."""
    family: ClassVar[str] = ""
    """The exploration family it is drawn in (empty: its category), weighted by FAULT_FAMILY_WEIGHTS."""
    usage: ClassVar[str] = ""
    """Its CLI words after the target, e.g. "ms=N [jitter_ms=N]" (empty: made from its fields by `usage_line`)."""
    freezes_service: ClassVar[bool] = False
    """Whether its target process answers nobody while it lasts (contracts then expect a hang at that entry)."""

    # -- what it touches ---------------------------------------------------------------

    def targets(self, topology: Topology) -> tuple[str, ...]:
        """The edges and services it touches: what the timeline, blast radius and `cascade heal X` match."""
        return tuple(self.edges(topology)) + tuple(self.services(topology))  # type: ignore[attr-defined]

    def exclusive_key(self, config_service: str | None = None) -> tuple[str, str]:
        """What two faults must not share to be active at once (default: this kind on this target)."""
        return (self.kind, self.target)  # type: ignore[attr-defined]

    # -- acting --------------------------------------------------------------------------

    def apply(self, mesh: Mesh) -> Undo:
        """Apply to `mesh`, verified by reading the real state back; return the verified undo."""
        raise InvalidFault(f"the fault kind {self.kind!r} ({type(self).__name__}) does not say how it is applied: "
                           "give it an apply(mesh) method")

    def drain_s(self) -> float:
        """How long after the last request through it the fault may still hold data that must leave first."""
        return 0.0

    def closes_connections(self, edge: str) -> bool:
        """Whether it may close connections across `edge` by itself (a delaying toxic there then holds no reader)."""
        return False

    # -- from words, and for exploration -----------------------------------------------

    @classmethod
    def from_spec(cls, target: str, **params: Any) -> Any:
        """Build from a target and named parameters, as the CLI and journals do (checks the names)."""
        accepted = param_names(cls)
        for key in params:
            if key not in accepted:
                raise InvalidFault(f"{cls.kind} has no parameter {key!r}; it takes: {', '.join(accepted) or 'no parameters'}")
        for f in fields(cls):  # type: ignore[arg-type]
            if f.default is MISSING and f.default_factory is MISSING and f.name not in params and f.name in accepted:
                raise InvalidFault(f"{cls.kind} needs {f.name}=, e.g. {{example}}",
                                   example=(cls.kind, target or "a->b", f"{f.name}=100"))
        return cls(target, **params)

    @classmethod
    def usage_line(cls) -> str:
        """Its parameters for help text: `usage`, or each own field as name=V ([name=V] when it has a default)."""
        if cls.usage:
            return cls.usage
        words = []
        for f in fields(cls)[1:]:  # type: ignore[arg-type]
            if not f.init or f.name in ("direction", "toxicity"):
                continue
            required = f.default is MISSING and f.default_factory is MISSING
            words.append(f"{f.name}=V" if required else f"[{f.name}=V]")
        return " ".join(words)

    @classmethod
    def target_word(cls) -> str:
        """What its target is, for help text: its first field's name (EDGE, SERVICE, ...)."""
        return fields(cls)[0].name.upper()  # type: ignore[arg-type]

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | Sequence[Any] | None:
        """Faults of this kind for exploration: a strategy, a finite list of faults, or None (not drawn)."""
        return None

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> Any:
        """One fault of this kind on `edge` strong enough to matter within `horizon_ms` (the sweep's), or None."""
        return None


def check_service_name(owner: str, value: object) -> str:
    """`value` stripped, if it can be a service name; else InvalidFault naming `owner`."""
    if not isinstance(value, str) or not value.strip() or any(c.isspace() or c in "<>" for c in value.strip()):
        raise InvalidFault(f"{owner}.service must be a service name like 'timeline', got {value!r}")
    return value.strip()


def check_service(topology: Topology, name: str) -> None:
    """InvalidFault listing the services that exist when `name` is not one of them."""
    try:
        topology.service(name)
    except InvalidTopology as exc:
        raise InvalidFault(str(exc)) from None


@dataclass(frozen=True)
class ServiceFault(FaultKind):
    """A fault aimed at one whole service (its process, or every edge it has): the target is the service's name."""

    service: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", check_service_name(type(self).__name__, self.service))

    @property
    def target(self) -> str:
        return self.service

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return f"{type(self).__name__}({self.service})"

    def validate(self, topology: Topology) -> None:
        check_service(topology, self.service)

    def services(self, topology: Topology) -> tuple[str, ...]:
        self.validate(topology)
        return (self.service,)


_KINDS: dict[str, type] = {}
FAULT_KINDS: Mapping[str, type] = MappingProxyType(_KINDS)
"""Every registered kind by name, in registration order (a live, read-only view)."""


def register_fault_kind(cls: type) -> type:
    """Register `cls` under its `kind`; a class decorator. Another class under the same name is refused."""
    name = getattr(cls, "kind", "")
    if not isinstance(name, str) or not name.isidentifier() or name != name.lower():
        raise InvalidFault(f"{cls.__name__}.kind must be a lower_snake_case name like 'latency', got {name!r}")
    if not is_dataclass(cls) or not fields(cls):
        raise InvalidFault(f"{cls.__name__} must be a dataclass whose first field is its target")
    for member in ("describe", "params", "validate", "edges", "services", "apply"):
        if not callable(getattr(cls, member, None)):
            raise InvalidFault(f"{cls.__name__} cannot be a fault kind: it has no {member}(); derive it from FaultKind")
    held = _KINDS.get(name)
    if held is not None and not same_definition(held, cls):
        raise InvalidFault(f"the fault kind {name!r} is taken by {held.__module__}.{held.__qualname__}; "
                           f"give {cls.__module__}.{cls.__qualname__} another kind")
    _KINDS[name] = cls
    return cls


def unregister_fault_kind(name: str) -> None:
    """Forget the kind `name` (a test's own kind, after the test)."""
    _KINDS.pop(name, None)


def kinds_in_family(family: str, preferred: Sequence[str] = ()) -> tuple[str, ...]:
    """The registered kinds drawn in `family`: those of `preferred` first, in its order, then the rest."""
    members = [k for k, cls in _KINDS.items() if (getattr(cls, "family", "") or getattr(cls, "category", "")) == family]
    return tuple([k for k in preferred if k in members] + [k for k in members if k not in preferred])


def fault_from_spec(kind: str, target: str, **params: Any) -> Any:
    """The fault of `kind` aimed at `target` (an edge, a service, or a BadConfig form or preset)."""
    cls = _KINDS.get(kind.replace("-", "_").lower()) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidFault(f"unknown fault kind {kind!r}; kinds are: {', '.join(_KINDS)}")
    return cls.from_spec(target, **params)  # type: ignore[attr-defined]


def param_names(cls: type) -> tuple[str, ...]:
    """The parameters after the target, keyword-only ones (direction, toxicity) last."""
    own = [f for f in fields(cls) if f.init][1:]  # type: ignore[arg-type]
    return tuple(f.name for f in own if not f.kw_only) + tuple(f.name for f in own if f.kw_only)


def apply_fault(mesh: Mesh, fault: Any) -> Undo:
    """Apply `fault` to `mesh` (verified) and return the verified undo: the kind's own `apply`."""
    if not callable(getattr(fault, "apply", None)):
        raise InvalidFault(f"{fault!r} is not a fault; build one from harness.faults (e.g. Latency(...))")
    return fault.apply(mesh)  # type: ignore[no-any-return]
