"""Hypothesis strategies over a topology: faults, fault schedules and bad config documents (pure).

    edge_faults(topology)          every kind of the "network" family (each Toxiproxy toxic and Down) on every edge
    process_faults(topology)       the "process" family: Kill, Pause, Restart of every service; Partition
    (registered families)          "config" (BadConfig pushes), "http" (HttpError, HttpDelay, HttpReplace on HTTP edges)
    faults(topology)               any of the above, the family drawn by FAULT_FAMILY_WEIGHTS
    schedules(topology)            faults placed on a bounded timeline: Scheduled(fault, at=, for_=)
    bad_configs(document)          BadConfig pushes derived from a config document's own shape

Parameters are scaled to the topology's journeys: times are a few levels from 0 up to the
largest journey budget (a longer delay only says "hung" again, more slowly), so one example
stays short. Levels, not every integer, and the strongest first (Down before any toxic, the
longest delay before shorter ones): Hypothesis shrinks towards the first option, and shrinking
towards the weakest fault that still fails would leave it on a timing boundary (a delay a
millisecond under a timeout) that a replay on a slightly faster machine passes. Toxicity
is always 1 and jitter 0: a toxic that hits a random share of connections, or a random
delay, would make a failing example pass on replay, and it could be neither shrunk nor
reproduced.

Each fault kind says how it is drawn (`FaultKind.draw`, in harness/faults/); a kind registered
later joins its family here with no change to this module.

Bad configs are derived from the config service's own document (harness/faults/config.py).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from hypothesis import strategies as st

from ..chaos import Scheduled
from ..errors import UsageError
from ..faults.base import FAULT_KINDS, DrawContext, Fault, kinds_in_family
from ..faults.config import BAD_CONFIG_KINDS, UNDEFINED_NAME, bad_configs, config_leaves
from ..topology import Topology

__all__ = [
    "BAD_CONFIG_KINDS",
    "EDGE_FAULT_KINDS",
    "FAULT_FAMILY_WEIGHTS",
    "PROCESS_FAULT_KINDS",
    "bad_configs",
    "config_leaves",
    "edge_faults",
    "fault_key",
    "faults",
    "horizon_ms",
    "process_faults",
    "schedules",
]

EDGE_FAULT_KINDS = ("down", "latency", "bandwidth", "slow_close", "timeout", "reset_peer", "slicer", "limit_data")
"""The built-in network kinds, in draw order (strongest first); kinds registered later follow them."""
PROCESS_FAULT_KINDS = ("kill", "pause", "restart", "partition")
"""The built-in process kinds, in draw order; kinds registered later follow them."""
FAULT_FAMILY_WEIGHTS = {"network": 2, "process": 1, "config": 1, "http": 1}  # how often faults() draws from each family
OTHER_FAMILY_WEIGHT = 1  # a family only registered kinds bring
DEFAULT_HORIZON_MS = 1_000  # for a topology without journeys
TIME_STEP_S = 0.05  # schedule times are multiples of this: readable, and they shrink towards 0


def horizon_ms(topology: Topology) -> int:
    """The largest journey budget: how long any generated delay may be."""
    return max((j.budget_ms for j in topology.journeys.values()), default=DEFAULT_HORIZON_MS)


def fault_key(fault: Fault, config_service: str | None = None, topology: Topology | None = None) -> tuple[str, str]:
    """What two faults must not share to be active at once: a toxic kind on one edge, or one service's process.

    Each kind says (`exclusive_key`); given the topology's `config_service`, a bad config push
    takes that service's process key. Given the topology, a push to a [config.NAME] takes the
    process key of what it needs running to be pushed and reverted (BadConfig.holder).
    """
    holder = getattr(fault, "holder", None)
    if topology is not None and holder is not None:
        process = holder(topology)
        if process:
            return ("process", process)
    return fault.exclusive_key(config_service)


def _chosen(family: str, kinds: tuple[str, ...] | None, preferred: tuple[str, ...], owner: str) -> tuple[str, ...]:
    """`kinds` checked against the family's registered kinds (None: all of them)."""
    members = kinds_in_family(family, preferred)
    chosen = members if kinds is None else tuple(kinds)
    unknown = [k for k in chosen if k not in members]
    if unknown or not chosen:
        raise UsageError(f"{owner}: unknown kind {unknown[0] if unknown else '(none given)'!r}; "
                         f"kinds are: {', '.join(members)}")
    return chosen


def _family(ctx: DrawContext, family: str, kinds: tuple[str, ...] | None,
            preferred: tuple[str, ...], owner: str) -> st.SearchStrategy[Any]:
    """One strategy over `kinds` of `family` (all of them by default), each kind's draws in order.

    Kinds that draw from a finite list (process faults) are drawn together with `sampled_from`,
    which shrinks towards the first; strategies (toxics, with parameters) are joined by `one_of`,
    which flattens one branch per edge and kind.
    """
    chosen = _chosen(family, kinds, preferred, owner)
    listed: list[Any] = []
    drawn: list[st.SearchStrategy[Any]] = []
    for kind in chosen:
        made = FAULT_KINDS[kind].draw(ctx)  # type: ignore[attr-defined]
        if made is None:
            continue
        if isinstance(made, st.SearchStrategy):
            drawn.append(made)
        else:
            listed.extend(made)
    if listed:
        drawn.append(st.sampled_from(listed))
    if not drawn:
        raise UsageError(f"{owner}: topology {ctx.topology.name!r} has nothing for kinds {', '.join(chosen)} to act on")
    return drawn[0] if len(drawn) == 1 else st.one_of(*drawn)


def edge_faults(topology: Topology, *, kinds: tuple[str, ...] | None = None) -> st.SearchStrategy[Any]:
    """Every kind of the network family (`kinds`, default all) on every edge of `topology`."""
    _chosen("network", kinds, EDGE_FAULT_KINDS, "edge_faults")
    if not topology.edges:
        raise UsageError(f"topology {topology.name!r} declares no edges: there is nothing to fault on the network")
    return _family(DrawContext(topology, horizon_ms(topology)), "network", kinds, EDGE_FAULT_KINDS, "edge_faults")


def process_faults(topology: Topology, *, kinds: tuple[str, ...] | None = None) -> st.SearchStrategy[Any]:
    """Kill, Pause, Restart of every service, and Partition of every service that has edges (the process family)."""
    return _family(DrawContext(topology, horizon_ms(topology)), "process", kinds, PROCESS_FAULT_KINDS,
                   "process_faults")


def faults(topology: Topology, *, process: bool = True, config_document: Mapping[str, Any] | None = None,
           config_kinds: tuple[str, ...] = BAD_CONFIG_KINDS,
           http_edges: Sequence[str] | None = None,
           config_documents: Mapping[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Any fault on `topology`: half of them network faults, a quarter each process faults and bad config pushes.

    The family is drawn first, by weight (FAULT_FAMILY_WEIGHTS; without process faults or a
    config document, the others keep their relative weights). A plain `st.one_of` of the three
    would not do: it flattens the network faults' one branch per edge and kind into its own
    branches, so with 16 edges x 8 kinds a process fault came up once in 130 draws and a bad
    config push, the incident this project is built around, hardly more often. Network faults
    come first so Hypothesis shrinks towards them (they are the cheapest to apply and to revert).
    """
    ctx = DrawContext(topology, horizon_ms(topology), config_document, config_kinds,
                      None if http_edges is None else tuple(http_edges), config_documents or None)
    families: dict[str, st.SearchStrategy[Any]] = {"network": edge_faults(topology)}
    if process:
        families["process"] = process_faults(topology)
    if config_documents or (config_document is not None and topology.config_service):
        families["config"] = _family(ctx, "config", None, (), "faults")
    for family in _other_families():
        try:
            families[family] = _family(ctx, family, None, (), "faults")
        except UsageError:
            continue  # nothing of it applies to this topology
    if len(families) == 1:
        return families["network"]
    weighted = [name for name in families for _ in range(FAULT_FAMILY_WEIGHTS.get(name, OTHER_FAMILY_WEIGHT))]
    return st.sampled_from(weighted).flatmap(families.__getitem__)


def _other_families() -> list[str]:
    """Families other than network, process and config (http, and those registered kinds bring), in registration order."""
    seen: list[str] = []
    for cls in FAULT_KINDS.values():
        family = getattr(cls, "family", "") or getattr(cls, "category", "")
        if family not in ("network", "process", "config") and family not in seen:
            seen.append(family)
    return seen


def schedules(topology: Topology, *, max_faults: int = 3, horizon_s: float | None = None,
              process: bool = True) -> st.SearchStrategy[tuple[Scheduled, ...]]:
    """Up to `max_faults` faults, each applied `at` seconds in and reverted `for_` seconds later, all inside the horizon.

    Two faults sharing a `fault_key` never appear in one schedule (Toxiproxy refuses a second
    toxic of one kind on a proxy; one process cannot be killed and paused at once).
    """
    if max_faults < 1:
        raise UsageError(f"schedules: max_faults must be >= 1, got {max_faults}")
    horizon = horizon_s if horizon_s is not None else horizon_ms(topology) / 1000
    if horizon <= 0:
        raise UsageError(f"schedules: horizon_s must be > 0, got {horizon}")
    steps = max(1, int(horizon / TIME_STEP_S))

    @st.composite
    def placed(draw: st.DrawFn, fault: Fault) -> Scheduled:
        at = draw(st.integers(0, steps - 1))
        length = draw(st.integers(1, steps - at))
        return Scheduled(fault, at=round(at * TIME_STEP_S, 3), for_=round(length * TIME_STEP_S, 3))

    chosen = st.lists(faults(topology, process=process), min_size=1, max_size=max_faults,
                      unique_by=lambda f: fault_key(f, topology.config_service, topology))
    return chosen.flatmap(lambda fs: st.tuples(*(placed(f) for f in fs)))
