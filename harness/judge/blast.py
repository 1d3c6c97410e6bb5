"""Blast radius: which journeys a set of faults may touch by the topology, and the cascades beyond it (pure).

The radius is built from each journey's *declared* edges, not from the transitive closure of
the topology graph. A journey J is inside the radius of a set of faults when

  * J declares a faulted edge (a faulted service cuts every edge into and out of it), or
  * J's entry service is itself a faulted service.

Why declared-only: the declared edge list is the contract of what a journey depends on. With
the transitive closure every journey entering `gateway` would sit inside the radius of every
fault below `gateway` (login inside the radius of the API-policy service), which is exactly
how non-critical plumbing silently becomes a hard dependency (DESIGN.md, lesson 2). So a
verdict change in a journey that does not declare the path is reported as a cascade, and the
topology route it may have taken (`BlastRadius.route`) names the undeclared dependency.

`find_cascades` compares the journeys *outside* the radius with the steady state: a changed
verdict, or latency beyond `before + max(latency_tolerance_ms, latency_tolerance_ratio * before)`,
is a cascade. Journeys missing from either mapping are not compared.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Collection, Iterable, Mapping

from ..errors import InvalidFault, InvalidTopology, UsageError
from ..topology import VERDICTS, Topology, parse_edge_name
from .verdicts import Observation, worse

__all__ = ["BlastRadius", "Cascade", "blast_radius", "find_cascades", "service_chain"]


@dataclass(frozen=True)
class BlastRadius:
    """The journeys a set of faults may touch (`inside`) and the rest (`outside`)."""

    faulted_edges: frozenset[str]
    faulted_services: frozenset[str]
    inside: frozenset[str]
    outside: frozenset[str]
    given_edges: frozenset[str]
    declared: Mapping[str, tuple[str, ...]]
    paths: Mapping[str, tuple[str, ...]]
    routes: Mapping[str, tuple[str, ...]]
    # journey -> the config:NAME targets whose source declares it (config.NAME.journeys)
    by_config: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __contains__(self, journey: object) -> bool:
        return journey in self.inside

    def path(self, journey: str) -> tuple[str, ...]:
        """The declared edges from `journey`'s entry to a faulted edge (or its faulted entry service); () if outside."""
        self._known(journey)
        return self.paths.get(journey, ())

    def route(self, journey: str) -> tuple[str, ...]:
        """For an outside journey: a topology route it does not declare from its entry to a faulted edge, or ()."""
        self._known(journey)
        return self.routes.get(journey, ())

    def origins(self, edge_or_service: str) -> tuple[str, ...]:
        """Which given fault targets cut this edge (the edge itself, or the faulted services at its ends)."""
        if "->" not in edge_or_service:
            return (edge_or_service,) if edge_or_service in self.faulted_services else ()
        caller, callee = parse_edge_name(edge_or_service)
        found = [edge_or_service] if edge_or_service in self.given_edges else []
        found += [s for s in (caller, callee) if s in self.faulted_services]
        return tuple(found)

    @property
    def targets(self) -> tuple[str, ...]:
        """Every given fault target, sorted: edges and whole services."""
        return tuple(sorted(self.given_edges | self.faulted_services))

    def _known(self, journey: str) -> None:
        if journey not in self.inside and journey not in self.outside:
            raise UsageError(
                f"unknown journey {journey!r}; journeys are: {', '.join(sorted(self.inside | self.outside))}"
            )


@dataclass(frozen=True)
class Cascade:
    """A journey outside the blast radius whose verdict or latency moved while the faults were on."""

    journey: str
    before: str
    during: str
    before_ms: float | None
    during_ms: float | None
    verdict_changed: bool
    latency_grew: bool
    route: tuple[str, ...]
    message: str


def blast_radius(
    topology: Topology, *, edges: Collection[str] = (), services: Collection[str] = ()
) -> BlastRadius:
    """The journeys `edges` and `services` may touch according to the journeys' declared edges."""
    given = frozenset(_edge_key(topology, e) for e in _names(edges, "edges"))
    named = _names(services, "services")
    configs = frozenset(_config_key(topology, s) for s in named if isinstance(s, str) and s.startswith("config:"))
    svcs = frozenset(_service_key(topology, s) for s in named if s not in configs)
    by_config: dict[str, list[str]] = {}
    for target in sorted(configs):
        for journey in topology.config_sources[target[len("config:"):]].journeys:
            by_config.setdefault(journey, []).append(target)
    cut = set(given)
    for s in svcs:
        cut.update(e.name for e in topology.edges_of(s))
    faulted = frozenset(cut)

    paths: dict[str, tuple[str, ...]] = {}
    routes: dict[str, tuple[str, ...]] = {}
    for name, j in topology.journeys.items():
        if j.service in svcs:
            paths[name] = (j.service,)
        elif faulted.intersection(j.edges):
            # A declared edge list need not be connected to the entry; the edge alone still counts.
            hit = _shortest(j.service, j.edges, faulted)
            paths[name] = hit or (min(faulted.intersection(j.edges)),)
        elif name in by_config:
            paths[name] = (by_config[name][0],)  # declared by the config source it depends on
        else:
            routes[name] = _shortest(j.service, topology.edges, faulted)
    return BlastRadius(
        faulted_edges=faulted,
        faulted_services=svcs | configs,
        inside=frozenset(paths),
        outside=frozenset(routes),
        given_edges=given,
        declared={n: j.edges for n, j in topology.journeys.items()},
        paths=paths,
        routes={n: r for n, r in routes.items() if r},
        by_config={n: tuple(ts) for n, ts in by_config.items()},
    )


def find_cascades(
    radius: BlastRadius,
    baseline: Mapping[str, Observation | str],
    during: Mapping[str, Observation | str],
    *,
    latency_tolerance_ms: float,
    latency_tolerance_ratio: float,
    labels: Mapping[str, str] | None = None,
) -> list[Cascade]:
    """Journeys outside `radius` whose verdict got worse or whose latency grew beyond tolerance, by name."""
    for value, what in ((latency_tolerance_ms, "latency_tolerance_ms"), (latency_tolerance_ratio, "latency_tolerance_ratio")):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise UsageError(f"find_cascades: {what} must be a finite number >= 0, got {value!r}")
    for name in (*baseline, *during):
        radius._known(name)
    found = []
    for name in sorted(radius.outside):
        if name not in baseline or name not in during:
            continue
        before, before_ms = _verdict_and_ms("baseline", name, baseline[name])
        now, now_ms = _verdict_and_ms("during", name, during[name])
        changed = worse(now, before)  # a journey that got better is no cascade
        allowed = None if before_ms is None else before_ms + max(latency_tolerance_ms, latency_tolerance_ratio * before_ms)
        grew = allowed is not None and now_ms is not None and now_ms > allowed
        if not (changed or grew):
            continue
        route = radius.route(name)
        changes = []
        if changed:
            changes.append(f"verdict {before} -> {now}")
        if grew:
            changes.append(f"latency {before_ms:.0f} ms -> {now_ms:.0f} ms (allowed up to {allowed:.0f} ms)")
        message = (
            f"cascade: {_who(radius, route, labels or {})} reached journey {name!r} "
            f"(outside its blast radius: {_declares(name, radius.declared[name])}{_via(route)}); "
            + ", ".join(changes)
        )
        found.append(Cascade(name, before, now, before_ms, now_ms, changed, grew, route, message))
    return found


def service_chain(path: Iterable[str]) -> str:
    """Render a chain of edge names as the services it passes: ("a->b", "b->c") -> "a -> b -> c"."""
    nodes: list[str] = []
    for step in path:
        if "->" not in step:
            nodes.append(step)
            continue
        caller, callee = parse_edge_name(step)
        if not nodes or nodes[-1] != caller:
            nodes.append(caller)
        nodes.append(callee)
    return " -> ".join(nodes)


# -- helpers ---------------------------------------------------------------


def _names(values: Collection[str], what: str) -> list[str]:
    if isinstance(values, str):
        # A bare string would be iterated letter by letter; name the mistake instead.
        raise InvalidFault(f"{what} must be a collection of names, got the string {values!r}; wrap it: [{values!r}]")
    return list(values)


def _edge_key(topology: Topology, name: object) -> str:
    try:
        return topology.edge(name).name  # type: ignore[arg-type]
    except InvalidTopology as exc:
        raise InvalidFault(str(exc)) from None


def _config_key(topology: Topology, name: str) -> str:
    source = name[len("config:"):]
    if source not in topology.config_sources:
        raise InvalidFault(f"unknown config source in {name!r}; config sources are: "
                           f"{', '.join(sorted(topology.config_sources)) or '(none)'}")
    return name


def _service_key(topology: Topology, name: object) -> str:
    if not isinstance(name, str) or name not in topology.services:
        raise InvalidFault(f"unknown service {name!r}; services are: {', '.join(sorted(topology.services))}")
    return name


def _shortest(start: str, edge_names: Iterable[str], goal: frozenset[str]) -> tuple[str, ...]:
    """Breadth-first: the shortest chain of edges from `start` ending in a `goal` edge, ties by name."""
    graph: dict[str, list[tuple[str, str]]] = {}
    for name in sorted(edge_names):
        caller, callee = parse_edge_name(name)
        graph.setdefault(caller, []).append((name, callee))
    queue: deque[tuple[str, tuple[str, ...]]] = deque([(start, ())])
    seen = {start}
    while queue:
        node, chain = queue.popleft()
        for name, callee in graph.get(node, ()):
            if name in goal:
                return (*chain, name)
            if callee not in seen:
                seen.add(callee)
                queue.append((callee, (*chain, name)))
    return ()


def _verdict_and_ms(side: str, name: str, value: Observation | str) -> tuple[str, float | None]:
    if isinstance(value, Observation):
        return value.verdict, value.elapsed_ms
    if value not in VERDICTS:
        raise UsageError(f"{side}[{name!r}]: unknown verdict {value!r}; verdicts are: {', '.join(VERDICTS)}")
    return value, None


def _who(radius: BlastRadius, route: tuple[str, ...], labels: Mapping[str, str]) -> str:
    targets = radius.origins(route[-1]) if route else radius.targets
    names = [labels.get(t) or f"the fault on {t}" for t in targets]
    return ", ".join(names) if names else "no fault"


def _declares(name: str, edges: tuple[str, ...]) -> str:
    return f"{name} declares {', '.join(edges)} only" if edges else f"{name} declares no edges"


def _via(route: tuple[str, ...]) -> str:
    return f"; undeclared route {service_chain(route)}" if route else "; no route to the fault in the topology"
