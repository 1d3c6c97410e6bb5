"""The fault vocabulary: pure, validated values that `chaos` turns into Toxiproxy calls, signals and config pushes.

    fault
    ├── network: one edge's Toxiproxy proxy ("caller->callee")          this module
    │   ├── toxic faults  Latency · Bandwidth · SlowClose · Timeout       toxics() -> Toxic per stream
    │   │                 ResetPeer · Slicer · LimitData
    │   ├── Down          the proxy disabled: connection refused          disables_proxy
    │   └── Partition     Down on every edge into and out of a service    disables_proxy, downs()
    ├── process: one service                                             process_faults.py
    │   └── Kill · Pause · Restart
    └── config: a document pushed to the config service                  config_faults.py
        └── BadConfig(document= | patch= | raw=), apply_patch, DELETE

Every fault offers `kind`, `category`, `target`, `describe()`, `params()` (JSON-able;
`fault_from_spec(f.kind, f.target, **f.params()) == f`), `validate(topology)`,
`edges(topology)` (the proxies it changes) and `services(topology)` (the services it
acts on as a whole). Construction checks every parameter against what Toxiproxy v2.12
accepts: its toxic attributes are Go integers (int64), so they must be whole numbers.
"""

from __future__ import annotations

import json
import math
import shlex
from dataclasses import MISSING, dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, runtime_checkable

from .config_faults import DELETE, MALFORMED_JSON, BadConfig, apply_patch
from .errors import InvalidFault, InvalidTopology
from .process_faults import Kill, Pause, Restart, check_service, check_service_name
from .topology import Topology, parse_edge_name
from .toxiproxy import Toxic

__all__ = [
    "BadConfig", "Bandwidth", "DELETE", "DIRECTIONS", "Down", "FAULT_KINDS", "Fault", "Kill", "Latency",
    "LimitData", "MALFORMED_JSON", "Partition", "Pause", "ResetPeer", "Restart", "Slicer", "SlowClose",
    "TOXIC_PREFIX", "Timeout", "apply_patch", "drain_s", "fault_from_spec", "parse_fault",
]  # fmt: skip

TOXIC_PREFIX = "cascade_"
"""Every toxic Cascade adds is named `cascade_<kind>_<stream>`; the leftovers reaper keys on this."""
DIRECTIONS = ("downstream", "upstream", "both")
_STREAMS = ("downstream", "upstream")
_I64 = 2**63 - 1
_MAX_MS = _I64 // 1_000_000  # Toxiproxy multiplies ms into a Go time.Duration (int64 nanoseconds)


@runtime_checkable
class Fault(Protocol):
    """What every fault value offers; all of it pure."""

    kind: ClassVar[str]
    category: ClassVar[str]

    @property
    def target(self) -> str: ...
    def describe(self) -> str: ...
    def params(self) -> dict[str, Any]: ...
    def validate(self, topology: Topology) -> None: ...
    def edges(self, topology: Topology) -> tuple[str, ...]: ...
    def services(self, topology: Topology) -> tuple[str, ...]: ...


def _number(owner: str, name: str, value: Any, minimum: float, maximum: float, whole: bool) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        raise InvalidFault(f"{owner}.{name} must be a number, got {value!r}")
    if value < minimum:
        raise InvalidFault(f"{owner}.{name} must be >= {minimum}, got {value!r}")
    if value > maximum:
        raise InvalidFault(f"{owner}.{name} must be <= {maximum}, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if whole and isinstance(value, float):
        raise InvalidFault(f"{owner}.{name} must be a whole number (Toxiproxy takes integers), got {value!r}")
    return value


@dataclass(frozen=True)
class _EdgeFault:
    edge: str

    kind: ClassVar[str] = ""
    category: ClassVar[str] = "network"
    disables_proxy: ClassVar[bool] = False
    # (parameter, minimum, maximum, whole number?) checked in order at construction
    _checks: ClassVar[tuple[tuple[str, float, float, bool], ...]] = ()

    def __post_init__(self) -> None:
        owner = type(self).__name__
        try:
            caller, callee = parse_edge_name(self.edge)
        except InvalidTopology as exc:
            raise InvalidFault(f"{owner}.edge: {exc}") from None
        object.__setattr__(self, "edge", f"{caller}->{callee}")
        for name, low, high, whole in self._checks:
            object.__setattr__(self, name, _number(owner, name, getattr(self, name), low, high, whole))

    @property
    def target(self) -> str:
        return self.edge

    def params(self) -> dict[str, Any]:
        """The parameters after the edge, the fault's own first, then direction and toxicity."""
        return {name: getattr(self, name) for name in _param_names(type(self))}

    def describe(self) -> str:
        p = self.params()
        shown = [self.edge] + [f"{k}={v}" for k, v in p.items() if k not in ("direction", "toxicity")]
        if "direction" in p:
            shown += [p["direction"]] + ([f"toxicity={p['toxicity']}"] if p["toxicity"] != 1 else [])
        return f"{type(self).__name__}({', '.join(shown)})"

    def validate(self, topology: Topology) -> None:
        try:
            topology.edge(self.edge)
        except InvalidTopology as exc:
            raise InvalidFault(str(exc)) from None

    def edges(self, topology: Topology) -> tuple[str, ...]:
        self.validate(topology)
        return (self.edge,)

    def services(self, topology: Topology) -> tuple[str, ...]:
        """None as a whole: only journeys crossing this edge are in its blast radius."""
        self.validate(topology)
        return ()

    def toxics(self) -> tuple[Toxic, ...]:
        return ()


@dataclass(frozen=True)
class _ToxicFault(_EdgeFault):
    """A fault that is one Toxiproxy toxic per stream.

    `direction` "downstream" is callee -> caller (responses), "upstream" caller -> callee
    (requests). `toxicity` is the share of connections affected: Toxiproxy draws once per
    connection and stream when the toxic starts on it, so with "both" and toxicity < 1 a
    connection may be hit on one stream only.
    """

    # keyword-only so each fault's own parameters stay positional after the edge
    direction: str = field(default="downstream", kw_only=True)
    toxicity: float = field(default=1.0, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        owner = type(self).__name__
        if not isinstance(self.direction, str) or self.direction not in DIRECTIONS:
            raise InvalidFault(f"{owner}.direction must be one of 'downstream', 'upstream', 'both', got {self.direction!r}")
        object.__setattr__(self, "toxicity", float(_number(owner, "toxicity", self.toxicity, 0, 1, False)))

    def attributes(self) -> dict[str, int]:
        """Toxiproxy's attributes for this toxic type."""
        raise NotImplementedError

    def toxics(self) -> tuple[Toxic, ...]:
        """One toxic per stream ("both" gives two), named `cascade_<kind>_<stream>`.

        Toxiproxy refuses a second toxic with the same name on one proxy (409), so two faults of
        one kind on one edge and stream cannot stack, and revert removes exactly these names.
        """
        streams = _STREAMS if self.direction == "both" else (self.direction,)
        return tuple(
            Toxic(name=f"{TOXIC_PREFIX}{self.kind}_{s}", type=self.kind, stream=s,
                  toxicity=self.toxicity, attributes=self.attributes())
            for s in streams
        )  # fmt: skip


@dataclass(frozen=True)
class Latency(_ToxicFault):
    """Every chunk delayed by `ms`, plus or minus up to `jitter_ms` (uniformly)."""

    ms: int
    jitter_ms: int = 0
    kind: ClassVar[str] = "latency"
    _checks = (("ms", 0, _MAX_MS, True), ("jitter_ms", 0, _MAX_MS, True))

    def attributes(self) -> dict[str, int]:
        return {"latency": self.ms, "jitter": self.jitter_ms}


@dataclass(frozen=True)
class Bandwidth(_ToxicFault):
    """Throughput capped at `kbps` kilobits per second (1 kbit = 1000 bits).

    Toxiproxy's `rate` is a whole number of KB/s with 1 KB = 1000 bytes (its pipe sleeps
    len(bytes) ms / rate, and its own test calls rate=1000 "1MB/s"). So rate = kbps / 8,
    rounded to the nearest whole KB/s: reachable caps are multiples of 8 kbit/s, and the
    smallest is 8 (rate 0 does not mean "no data" there: it stalls the pipe in a loop).
    """

    kbps: float
    kind: ClassVar[str] = "bandwidth"
    _checks = (("kbps", 8, 8 * (_I64 // 100), False),)  # Toxiproxy computes rate*100 in int64

    @property
    def rate_kb_per_s(self) -> int:
        """The `rate` attribute Toxiproxy gets: kbps / 8, rounded half up."""
        return (self.kbps + 4) // 8 if isinstance(self.kbps, int) else math.floor(self.kbps / 8 + 0.5)

    def attributes(self) -> dict[str, int]:
        return {"rate": self.rate_kb_per_s}


@dataclass(frozen=True)
class SlowClose(_ToxicFault):
    """The socket's close delayed by `ms` once the other side has closed."""

    ms: int
    kind: ClassVar[str] = "slow_close"
    _checks = (("ms", 0, _MAX_MS, True),)

    def attributes(self) -> dict[str, int]:
        return {"delay": self.ms}


@dataclass(frozen=True)
class Timeout(_ToxicFault):
    """Toxiproxy's timeout toxic: drops all data on its stream at once, closes the connection `ms` after the last drop.

    This surprises people, so precisely (Toxiproxy v2.12 toxics/timeout.go, README "timeout"):
    - nothing on the faulted stream gets through from the moment the toxic is added;
    - the timer restarts with every dropped chunk, so `ms` counts from the last data dropped;
    - with ms=0 the toxic never closes the connection itself (a blackhole) ...
    - ... but when the *server* closes its side, the client's connection is closed at once. With
      the default downstream direction against a server that answers and closes, the caller sees
      "connection closed without response" within milliseconds, not a hang. For a real
      blackhole (the caller waits until its own timeout) use direction="upstream" or "both":
      the request never reaches the server, so nothing closes.
    - removing the toxic closes the connections it held (TestTimeoutToxicClosesConnectionOnRemove).
    """

    ms: int
    kind: ClassVar[str] = "timeout"
    _checks = (("ms", 0, _MAX_MS, True),)

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.ms}


@dataclass(frozen=True)
class ResetPeer(_ToxicFault):
    """The connection reset (TCP RST, "connection reset by peer") `ms` after data first arrives; 0: at once."""

    ms: int
    kind: ClassVar[str] = "reset_peer"
    _checks = (("ms", 0, _MAX_MS, True),)

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.ms}


@dataclass(frozen=True)
class Slicer(_ToxicFault):
    """Data cut into pieces of about `avg_bytes` (± `variation`), `delay_us` microseconds apart.

    Toxiproxy needs average_size >= 1 (0 recurses forever) and size_variation < average_size
    (else a slice boundary can fall before its start and the proxy panics slicing the chunk).
    """

    avg_bytes: int
    variation: int = 0
    delay_us: int = 0
    kind: ClassVar[str] = "slicer"
    _checks = (("avg_bytes", 1, _I64, True), ("variation", 0, _I64, True), ("delay_us", 0, _I64 // 1000, True))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.variation >= self.avg_bytes:
            raise InvalidFault(f"Slicer.variation must be < avg_bytes ({self.avg_bytes}), got {self.variation}")

    def attributes(self) -> dict[str, int]:
        return {"average_size": self.avg_bytes, "size_variation": self.variation, "delay": self.delay_us}


@dataclass(frozen=True)
class LimitData(_ToxicFault):
    """The connection closed once `bytes_` bytes have passed (0: closed on the first data)."""

    bytes_: int
    kind: ClassVar[str] = "limit_data"
    _checks = (("bytes_", 0, _I64, True),)

    def attributes(self) -> dict[str, int]:
        return {"bytes": self.bytes_}


@dataclass(frozen=True)
class Down(_EdgeFault):
    """The edge's proxy disabled: new connections refused, open ones closed.

    Not a toxic: the applier sets the proxy's `enabled` to false. Toxiproxy disables a proxy
    as a whole, so Down has no direction and no toxicity.
    """

    kind: ClassVar[str] = "down"
    disables_proxy: ClassVar[bool] = True


@dataclass(frozen=True)
class Partition:
    """Every edge into and out of `service` cut at once: a Down on each of them."""

    service: str
    kind: ClassVar[str] = "partition"
    category: ClassVar[str] = "network"
    disables_proxy: ClassVar[bool] = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "service", check_service_name("Partition", self.service))

    @property
    def target(self) -> str:
        return self.service

    def params(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return f"Partition({self.service})"

    def validate(self, topology: Topology) -> None:
        check_service(topology, self.service)
        if not topology.edges_of(self.service):
            raise InvalidFault(f"Partition({self.service}): {self.service!r} has no edges to cut")

    def downs(self, topology: Topology) -> tuple[Down, ...]:
        """The Down faults this partition amounts to, sorted by edge."""
        return tuple(Down(name) for name in self.edges(topology))

    def edges(self, topology: Topology) -> tuple[str, ...]:
        self.validate(topology)
        return tuple(sorted(e.name for e in topology.edges_of(self.service)))

    def services(self, topology: Topology) -> tuple[str, ...]:
        self.validate(topology)
        return (self.service,)

    def toxics(self) -> tuple[Toxic, ...]:
        return ()


FAULT_KINDS: MappingProxyType[str, type] = MappingProxyType({cls.kind: cls for cls in (
    Latency, Bandwidth, SlowClose, Timeout, ResetPeer, Slicer, LimitData, Down, Partition,
    Kill, Pause, Restart, BadConfig,
)})  # fmt: skip


def fault_from_spec(kind: str, target: str, **params: Any) -> Any:
    """The fault of `kind` aimed at `target` (an edge, a service, or a BadConfig form or preset)."""
    cls = FAULT_KINDS.get(kind.replace("-", "_").lower()) if isinstance(kind, str) else None
    if cls is None:
        raise InvalidFault(f"unknown fault kind {kind!r}; kinds are: {', '.join(FAULT_KINDS)}")
    if cls is BadConfig:
        return BadConfig.from_spec(target, **params)
    accepted = _param_names(cls)
    for key in params:
        if key not in accepted:
            raise InvalidFault(f"{cls.kind} has no parameter {key!r}; it takes: {', '.join(accepted) or 'no parameters'}")
    for f in fields(cls):
        if f.default is MISSING and f.default_factory is MISSING and f.name not in params and f.name in accepted:
            raise InvalidFault(f"{cls.kind} needs {f.name}=, e.g. {{example}}",
                               example=(cls.kind, target or "a->b", f"{f.name}=100"))
    return cls(target, **params)


def _param_names(cls: type) -> tuple[str, ...]:
    """The parameters after the target, keyword-only ones (direction, toxicity) last."""
    own = [f for f in fields(cls) if f.init][1:]
    return tuple(f.name for f in own if not f.kw_only) + tuple(f.name for f in own if f.kw_only)


def parse_fault(text: str) -> Any:
    """A fault from one CLI line: `kind target name=value ...`, e.g. "latency timeline->media ms=2000".

    Values are read as JSON when they parse (2000, 0.5, true, "quoted") and as text otherwise.
    """
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise InvalidFault(f"cannot read fault {text!r}: {exc}") from None
    if not words:
        raise InvalidFault("an empty fault; write e.g. {example}", example=("latency", "timeline->media", "ms=2000"))
    target: list[str] = []
    params: dict[str, Any] = {}
    for word in words[1:]:
        name, eq, value = word.partition("=")
        if not eq:
            if params:
                raise InvalidFault(f"{text!r}: {word!r} comes after the parameters; write parameters as name=value")
            target.append(word)  # "timeline -> media" arrives as three words
        elif not name.isidentifier() or name in params:
            raise InvalidFault(f"{text!r}: {word!r} is not a new parameter name=value")
        else:
            try:
                params[name] = json.loads(value)
            except ValueError:
                params[name] = value
    return fault_from_spec(words[0], " ".join(target), **params)


DRAIN_MARGIN_S = 0.1
IN_FLIGHT_BYTES = 4_096  # how much a slicer may still be trickling out: a few responses of the journeys' size
BANDWIDTH_PIECE_S = 0.1  # a bandwidth toxic sends something every 100 ms while it holds data


def drain_s(fault: Any) -> float:
    """How long after the last request through `fault` its toxic may still be pushing held data out.

    Toxiproxy 2.12 can hang for good removing a toxic (the API call never returns and every
    later one waits behind it; Shopify/toxiproxy#558): when a caller closes its connection, the
    link's writer dies at the next chunk the toxic pushes, and a removal that starts in between
    waits on a toxic blocked sending to that dead writer. Seen here with 1.5 s of latency on an
    edge whose caller had given up, a slicer on a Redis edge, and 800 kbps of bandwidth on an
    edge whose caller timed out on an image. Once the toxic has pushed out what it held (the
    writer is gone and its link forgotten, or the data was delivered), removal is safe: that is
    the delay, the slicer's trickle of a few responses, or two of the bandwidth toxic's 100 ms
    pieces, plus a margin.
    """
    if fault.kind == "latency":
        return (fault.ms + fault.jitter_ms) / 1000 + DRAIN_MARGIN_S
    if fault.kind == "slow_close":
        return fault.ms / 1000 + DRAIN_MARGIN_S
    if fault.kind == "slicer" and fault.delay_us:
        return IN_FLIGHT_BYTES / fault.avg_bytes * fault.delay_us / 1e6 + DRAIN_MARGIN_S
    if fault.kind == "bandwidth":
        return 2 * BANDWIDTH_PIECE_S + DRAIN_MARGIN_S
    return 0.0
