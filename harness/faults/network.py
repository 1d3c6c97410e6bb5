"""Network faults: one edge's Toxiproxy proxy ("caller->callee") changed, as pure, validated values.

    network fault
    ├── toxic faults  Latency · Bandwidth · SlowClose · Timeout       toxics() -> Toxic per stream
    │                 ResetPeer · Slicer · LimitData                  apply: add them, undo: remove them
    ├── Down          the proxy disabled: connection refused          apply: disable, undo: enable
    └── Partition     Down on every edge into and out of a service    downs()

Construction checks every parameter against what Toxiproxy v2.12 accepts: its toxic attributes
are Go integers (int64), so they must be whole numbers. Each kind also says how exploration draws
it (`draw`) and which one fault of it the sweep tries per edge (`representative`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..errors import InvalidFault, InvalidTopology
from ..clients.toxiproxy import Toxic
from ..topology import Topology, parse_edge_name
from .base import (
    DrawContext, FaultKind, ServiceFault, Undo, check_service, param_names, register_fault_kind,
)  # fmt: skip

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

    from ..mesh import Mesh

__all__ = [
    "BANDWIDTH_PIECE_S", "Bandwidth", "DIRECTIONS", "DRAIN_MARGIN_S", "Down", "EdgeFault", "IN_FLIGHT_BYTES",
    "Latency", "LimitData", "Partition", "ResetPeer", "Slicer", "SlowClose", "TOXIC_PREFIX", "Timeout",
    "ToxicFault", "apply_toxics", "disable_edges",
]  # fmt: skip

TOXIC_PREFIX = "cascade_"
"""Every toxic Cascade adds is named `cascade_<kind>_<stream>`; the leftovers reaper keys on this."""
DIRECTIONS = ("downstream", "upstream", "both")
_STREAMS = ("downstream", "upstream")
_I64 = 2**63 - 1
_MAX_MS = _I64 // 1_000_000  # Toxiproxy multiplies ms into a Go time.Duration (int64 nanoseconds)

DRAIN_MARGIN_S = 0.1
IN_FLIGHT_BYTES = 4_096  # how much a slicer may still be trickling out: a few responses of the journeys' size
BANDWIDTH_PIECE_S = 0.1  # a bandwidth toxic sends something every 100 ms while it holds data


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
class EdgeFault(FaultKind):
    """A fault on one edge's proxy; a new network kind derives from this (or `ToxicFault`)."""

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
        return {name: getattr(self, name) for name in param_names(type(self))}

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

    def apply(self, mesh: Mesh) -> Undo:
        """Add the fault's toxics to the edge's proxy (each read back by the client); undo removes exactly those."""
        (edge,) = self.edges(mesh.topology)
        return apply_toxics(mesh, edge, self.toxics())

    @classmethod
    def _per_edge(cls, ctx: DrawContext, make: Any) -> SearchStrategy[Any] | None:
        """One branch per edge of the topology (sorted), from `make(edge)`; None without edges."""
        from hypothesis import strategies as st

        edges = sorted(ctx.topology.edges)
        return st.one_of(*(make(e) for e in edges)) if edges else None


def apply_toxics(mesh: Mesh, edge: str, toxics: tuple[Toxic, ...]) -> Undo:
    """Add `toxics` to `edge`'s proxy, all or none; the undo removes exactly them (both verified by the client)."""
    added = []
    try:
        for toxic in toxics:
            mesh.toxiproxy.add_toxic(edge, toxic)
            added.append(toxic.name)
    except BaseException:
        for name in added:  # never leave half a fault behind
            mesh.toxiproxy.remove_toxic(edge, name)
        raise

    def undo() -> None:
        for name in added:
            mesh.toxiproxy.remove_toxic(edge, name)

    return undo


def disable_edges(mesh: Mesh, edges: tuple[str, ...]) -> Undo:
    """Hold each edge's proxy disabled (the mesh counts holds per edge); the undo releases them."""
    # Several faults may cut one edge (a Down inside a Partition, possibly on two threads): the
    # mesh counts cuts per edge, and only the first cut disables and the last undo enables.
    done: list[str] = []
    try:
        for edge in edges:
            mesh.cut(edge)
            done.append(edge)
    except BaseException:
        for edge in reversed(done):
            mesh.uncut(edge)
        raise

    def undo() -> None:
        for edge in reversed(done):
            mesh.uncut(edge)

    return undo


def _levels(top: int, *, zero_first: bool = False) -> SearchStrategy[int]:
    """`top` halved four times, and 0: strongest first, so Hypothesis shrinks a delay towards the strongest."""
    from hypothesis import strategies as st

    levels = [*sorted({max(1, top >> i) for i in range(5)}, reverse=True), 0]
    return st.sampled_from(levels[-1:] + levels[:-1] if zero_first else levels)


def _directions() -> SearchStrategy[str]:
    from hypothesis import strategies as st

    return st.sampled_from(sorted(DIRECTIONS))  # "both" first: the strongest


@dataclass(frozen=True)
class ToxicFault(EdgeFault):
    """A fault that is one Toxiproxy toxic per stream (of type `toxic_type`, default the kind's name).

    `direction` "downstream" is callee -> caller (responses), "upstream" caller -> callee
    (requests). `toxicity` is the share of connections affected: Toxiproxy draws once per
    connection and stream when the toxic starts on it, so with "both" and toxicity < 1 a
    connection may be hit on one stream only.
    """

    toxic_type: ClassVar[str] = ""
    """Toxiproxy's toxic type, when it is not the kind's name."""
    closes: ClassVar[bool] = False
    """Whether the toxic closes connections by itself (reset, limit, timeout)."""

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
            Toxic(name=f"{TOXIC_PREFIX}{self.kind}_{s}", type=self.toxic_type or self.kind, stream=s,
                  toxicity=self.toxicity, attributes=self.attributes())
            for s in streams
        )  # fmt: skip

    def closes_connections(self, edge: str) -> bool:
        return self.closes and self.edge == edge

    @classmethod
    def _draw_one(cls, ctx: DrawContext, name: str, values: SearchStrategy[Any]) -> SearchStrategy[Any] | None:
        """One branch per edge: the parameter `name` drawn from `values`, in every direction."""
        from hypothesis import strategies as st

        return cls._per_edge(ctx, lambda e: st.builds(lambda v, d: cls(e, **{name: v}, direction=d),
                                                      values, _directions()))

    @classmethod
    def _draw_ms(cls, ctx: DrawContext, *, zero_first: bool = False) -> SearchStrategy[Any] | None:
        """One branch per edge: `ms` at levels up to the horizon (`_levels`), in every direction."""
        return cls._draw_one(ctx, "ms", _levels(ctx.horizon_ms, zero_first=zero_first))

    def drain_s(self) -> float:
        """How long after the last request through it the toxic may still be pushing held data out.

        Toxiproxy 2.12 can hang for good removing a toxic (the API call never returns and every
        later one waits behind it; Shopify/toxiproxy#558): when a caller closes its connection, the
        link's writer dies at the next chunk the toxic pushes, and a removal that starts in between
        waits on a toxic blocked sending to that dead writer. Seen here with 1.5 s of latency on an
        edge whose caller had given up, a slicer on a Redis edge, and 800 kbps of bandwidth on an
        edge whose caller timed out on an image. Once the toxic has pushed out what it held (the
        writer is gone and its link forgotten, or the data was delivered), removal is safe: that is
        the delay, the slicer's trickle of a few responses, or two of the bandwidth toxic's 100 ms
        pieces, plus a margin. A toxic that holds nothing (reset, timeout, limit) needs no wait.
        """
        return 0.0


@register_fault_kind
@dataclass(frozen=True)
class Latency(ToxicFault):
    """Every chunk delayed by `ms`, plus or minus up to `jitter_ms` (uniformly)."""

    ms: int
    jitter_ms: int = 0
    kind: ClassVar[str] = "latency"
    _checks = (("ms", 0, _MAX_MS, True), ("jitter_ms", 0, _MAX_MS, True))

    usage: ClassVar[str] = "ms=N [jitter_ms=N]"

    def attributes(self) -> dict[str, int]:
        return {"latency": self.ms, "jitter": self.jitter_ms}

    def drain_s(self) -> float:
        return (self.ms + self.jitter_ms) / 1000 + DRAIN_MARGIN_S

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        return cls._draw_ms(ctx)

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> Latency:
        return cls(edge, ms=horizon_ms)


@register_fault_kind
@dataclass(frozen=True)
class Bandwidth(ToxicFault):
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

    usage: ClassVar[str] = "kbps=N"

    def attributes(self) -> dict[str, int]:
        return {"rate": self.rate_kb_per_s}

    def drain_s(self) -> float:
        return 2 * BANDWIDTH_PIECE_S + DRAIN_MARGIN_S

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        from hypothesis import strategies as st

        return cls._draw_one(ctx, "kbps", st.sampled_from([8, 64, 512, 4_096]))

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> Bandwidth:
        return cls(edge, kbps=8)


@register_fault_kind
@dataclass(frozen=True)
class SlowClose(ToxicFault):
    """The socket's close delayed by `ms` once the other side has closed."""

    ms: int
    kind: ClassVar[str] = "slow_close"
    _checks = (("ms", 0, _MAX_MS, True),)

    usage: ClassVar[str] = "ms=N"

    def attributes(self) -> dict[str, int]:
        return {"delay": self.ms}

    def drain_s(self) -> float:
        return self.ms / 1000 + DRAIN_MARGIN_S

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        return cls._draw_ms(ctx)

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> SlowClose:
        return cls(edge, ms=horizon_ms)


@register_fault_kind
@dataclass(frozen=True)
class Timeout(ToxicFault):
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
    usage: ClassVar[str] = "ms=N"
    closes: ClassVar[bool] = True

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> Timeout:
        return cls(edge, ms=0, direction="both")  # a blackhole: nothing gets through, nothing closes

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.ms}

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        return cls._draw_ms(ctx, zero_first=True)  # 0 is the strongest: closing at once (reset), or never (timeout)


@register_fault_kind
@dataclass(frozen=True)
class ResetPeer(ToxicFault):
    """The connection reset (TCP RST, "connection reset by peer") `ms` after data first arrives; 0: at once."""

    ms: int
    kind: ClassVar[str] = "reset_peer"
    _checks = (("ms", 0, _MAX_MS, True),)
    usage: ClassVar[str] = "ms=N"
    closes: ClassVar[bool] = True

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> ResetPeer:
        return cls(edge, ms=0)

    def attributes(self) -> dict[str, int]:
        return {"timeout": self.ms}

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        return cls._draw_ms(ctx, zero_first=True)  # 0 is the strongest: closing at once (reset), or never (timeout)


@register_fault_kind
@dataclass(frozen=True)
class Slicer(ToxicFault):
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

    usage: ClassVar[str] = "avg_bytes=N [variation=N] [delay_us=N]"

    def attributes(self) -> dict[str, int]:
        return {"average_size": self.avg_bytes, "size_variation": self.variation, "delay": self.delay_us}

    def drain_s(self) -> float:
        if not self.delay_us:
            return 0.0
        return IN_FLIGHT_BYTES / self.avg_bytes * self.delay_us / 1e6 + DRAIN_MARGIN_S

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        from hypothesis import strategies as st

        return cls._per_edge(ctx, lambda e: st.builds(
            lambda avg, half, delay, d: cls(e, avg_bytes=avg, variation=avg // 2 if half else 0, delay_us=delay,
                                            direction=d),
            st.sampled_from([1, 16, 256]), st.booleans(), st.sampled_from([1_000, 100, 0]), _directions()))

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> Slicer:
        return cls(edge, avg_bytes=1, delay_us=100)  # 10 kB/s, and drained within half a second


@register_fault_kind
@dataclass(frozen=True)
class LimitData(ToxicFault):
    """The connection closed once `bytes_` bytes have passed (0: closed on the first data)."""

    bytes_: int
    kind: ClassVar[str] = "limit_data"
    _checks = (("bytes_", 0, _I64, True),)

    usage: ClassVar[str] = "bytes_=N"
    closes: ClassVar[bool] = True

    def attributes(self) -> dict[str, int]:
        return {"bytes": self.bytes_}

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        from hypothesis import strategies as st

        return cls._draw_one(ctx, "bytes_", st.sampled_from([0, 64, 512, 4_096]))

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> LimitData:
        return cls(edge, bytes_=0)


@register_fault_kind
@dataclass(frozen=True)
class Down(EdgeFault):
    """The edge's proxy disabled: new connections refused, open ones closed.

    Not a toxic: the applier sets the proxy's `enabled` to false. Toxiproxy disables a proxy
    as a whole, so Down has no direction and no toxicity.
    """

    kind: ClassVar[str] = "down"
    disables_proxy: ClassVar[bool] = True

    def apply(self, mesh: Mesh) -> Undo:
        return disable_edges(mesh, self.edges(mesh.topology))

    def closes_connections(self, edge: str) -> bool:
        return self.edge == edge

    @classmethod
    def draw(cls, ctx: DrawContext) -> SearchStrategy[Any] | None:
        from hypothesis import strategies as st

        return cls._per_edge(ctx, lambda e: st.just(cls(e)))

    @classmethod
    def representative(cls, edge: str, horizon_ms: int) -> Down:
        return cls(edge)


@register_fault_kind
@dataclass(frozen=True)
class Partition(ServiceFault):
    """Every edge into and out of `service` cut at once: a Down on each of them."""

    kind: ClassVar[str] = "partition"
    category: ClassVar[str] = "network"
    family: ClassVar[str] = "process"  # drawn per service, with the faults that take a whole service out
    disables_proxy: ClassVar[bool] = True

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

    def toxics(self) -> tuple[Toxic, ...]:
        return ()

    def apply(self, mesh: Mesh) -> Undo:
        return disable_edges(mesh, self.edges(mesh.topology))

    def closes_connections(self, edge: str) -> bool:
        return True  # it closes every connection of its service, whichever edge

    @classmethod
    def draw(cls, ctx: DrawContext) -> list[Partition]:
        return [cls(s) for s in sorted(ctx.topology.services) if ctx.topology.edges_of(s)]


