"""Contracts: which verdicts a journey may come out with while given edges and services are faulted (pure).

Rules, for one journey J and a set of faults:

    | J and the faults                          | acceptable                                  |
    |-------------------------------------------|---------------------------------------------|
    | outside the blast radius (see blast.py)   | {full, its at_rest}: an untouched journey   |
    |                                           | must stay as it answers with no fault       |
    | declares faulted edge e                   | J.contracts[e], else the contract of each   |
    |                                           | fault that cut e (service S: J.contracts[S] |
    |                                           | if declared), else {full, degraded,         |
    |                                           | failed_fast}                                |
    | J's entry service S is faulted            | J.contracts[S], else the same default       |
    | J's entry service S is paused (frozen)    | hung as well: nothing in the mesh can answer|
    |                                           | J's client, in any mode (see `frozen_by`)   |
    | several of the above                      | the union of their sets                     |
    | always                                    | minus {hung, wrong}: never acceptable       |

Why a union: each fault alone may legitimately push J to any verdict its contract allows,
and with several faults the worst of them decides, so whatever one fault allows the
combination must allow too (an intersection could demand `degraded` while another fault
rightly forces `failed_fast`). An error body that leaks an internal message (`leaked=True`,
e.g. the code-467 JSON on a 403) breaks the contract unless `Contract.allow_leaks` is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Collection, Iterable, Mapping, MutableMapping

from .blast import BlastRadius, blast_radius
from ..errors import UsageError
from ..topology import NEVER_ACCEPTABLE, VERDICTS, Journey, Topology
from .verdicts import Observation

if TYPE_CHECKING:
    from ..faults.base import Fault

__all__ = [
    "Contract",
    "ContractResult",
    "DEFAULT_TOUCHED",
    "UNTOUCHED",
    "acceptable",
    "check",
    "confirm_alone",
    "contract_for",
    "frozen_by",
]

DEFAULT_TOUCHED = frozenset({"full", "degraded", "failed_fast"})
UNTOUCHED = frozenset({"full"})


@dataclass(frozen=True)
class Contract:
    """The verdicts acceptable for one journey under a set of faults, and whether leaked errors pass."""

    journey: str
    verdicts: frozenset[str]
    allow_leaks: bool = False
    touched_by: tuple[str, ...] = ()
    faults: tuple[str, ...] = ()
    frozen_entry: str = ""  # J's entry service, when a Pause froze it: J may hang (only then)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdicts", _verdicts(self.verdicts, f"Contract({self.journey!r}).verdicts"))

    def __contains__(self, verdict: object) -> bool:
        return verdict in self.verdicts

    @property
    def wanted(self) -> str:
        """The acceptable verdicts as `degraded|failed_fast|full` (sorted), or `nothing`."""
        return "|".join(sorted(self.verdicts)) or "nothing"

    @property
    def context(self) -> str:
        """Why these verdicts: which faults touch the journey, or that none does."""
        if self.touched_by:
            verb = "is" if len(self.touched_by) == 1 else "are"
            return f"while {', '.join(self.touched_by)} {verb} faulted"
        if self.faults:
            return f"outside the blast radius of {', '.join(self.faults)}"
        return "with no fault"


@dataclass(frozen=True)
class ContractResult:
    """Whether one observation kept its contract, and a sentence saying so."""

    journey: str
    ok: bool
    verdict: str
    acceptable: frozenset[str]
    message: str
    leaked: bool = False


def contract_for(
    journey: Journey | str,
    topology: Topology,
    *,
    edges: Collection[str] = (),
    services: Collection[str] = (),
    allow_leaks: bool = False,
    radius: BlastRadius | None = None,
    frozen: Collection[str] = (),
) -> Contract:
    """The contract of `journey` while `edges` and `services` are faulted (rules in the module docstring).

    `frozen`: the services paused meanwhile (`frozen_by(faults)`).
    """
    j = topology.journey(journey) if isinstance(journey, str) else journey
    allow_leaks = allow_leaks or j.allow_leaks
    # Callers judging many journeys under one injection pass its radius once; then edges and
    # services are ignored, the radius already holds them.
    radius = radius if radius is not None else blast_radius(topology, edges=edges, services=services)
    if j.name not in radius:
        # As it answers at rest: `degraded` for a journey declared at_rest = "degraded" (its gate allows it).
        return Contract(j.name, UNTOUCHED | {j.at_rest}, allow_leaks, faults=radius.targets)
    parts: list[frozenset[str]] = []
    touched: set[str] = set()
    if j.service in radius.faulted_services:
        touched.add(j.service)
        parts.append(j.contracts.get(j.service, DEFAULT_TOUCHED))
    for edge in sorted(radius.faulted_edges.intersection(j.edges)):
        origins = radius.origins(edge)
        touched.update(origins)
        if edge in j.contracts:
            # The edge's own contract governs it however it was cut, even by killing a service.
            parts.append(j.contracts[edge])
        else:
            parts.extend(j.contracts.get(o, DEFAULT_TOUCHED) if "->" not in o else DEFAULT_TOUCHED for o in origins)
    for target in radius.by_config.get(j.name, ()):  # a config source that declares this journey was pushed
        touched.add(target)
        parts.append(DEFAULT_TOUCHED)
    verdicts = frozenset().union(*parts) - NEVER_ACCEPTABLE
    return Contract(j.name, verdicts, allow_leaks, touched_by=tuple(sorted(touched)), faults=radius.targets,
                    frozen_entry=j.service if j.service in frozen else "")


def frozen_by(faults: Iterable[Fault]) -> frozenset[str]:
    """The services `faults` freeze (Pause; any kind with `freezes_service`): a journey entering at one cannot be answered by anyone.

    A journey's client talks to its entry service directly, with no proxy or load balancer in
    between that could answer for it, so while that process is stopped the client waits: hung,
    whatever the mesh's resilience. Every other journey through the frozen service is judged as
    usual (its callers must time out and degrade).
    """
    return frozenset(f.target for f in faults if getattr(f, "freezes_service", False))


def acceptable(
    journey: Journey | str,
    topology: Topology,
    *,
    edges: Collection[str],
    services: Collection[str] = (),
) -> frozenset[str]:
    """The verdicts acceptable for `journey` while `edges` and `services` are faulted."""
    return contract_for(journey, topology, edges=edges, services=services).verdicts


def check(
    observation: Observation,
    acceptable: Contract | Collection[str],
    *,
    allow_leaks: bool | None = None,
) -> ContractResult:
    """Judge one observation against a contract (or a plain set of verdicts)."""
    contract = (
        acceptable
        if isinstance(acceptable, Contract)
        else Contract(observation.journey, _verdicts(acceptable, "check: acceptable"))
    )
    leaks_ok = contract.allow_leaks if allow_leaks is None else allow_leaks
    name, verdict = observation.journey, observation.verdict
    if verdict == "hung" and contract.frozen_entry:
        ok = True
        message = f"{name}: hung, as it must: its entry service {contract.frozen_entry} is frozen (paused)"
    elif verdict not in contract.verdicts:
        ok = False
        message = (
            f"{name}: {verdict} ({observation.reason}), wanted {contract.wanted} {contract.context}"
        )
    elif observation.leaked and not leaks_ok:
        ok = False
        message = (
            f"{name}: {verdict} but the error body leaks an internal message ({observation.reason}); "
            f"leaks are not acceptable {contract.context}"
        )
    else:
        ok = True
        message = f"{name}: {verdict} is acceptable ({contract.wanted}) {contract.context}"
    return ContractResult(name, ok, verdict, contract.verdicts, message, leaked=observation.leaked)


def confirm_alone(seen: MutableMapping[str, Observation], contracts: Mapping[str, Contract],
                  rerun: Callable[[str], Observation]) -> dict[str, ContractResult]:
    """Judge `seen`; a journey that broke its contract is run again alone, and its second run counts if it keeps it.

    Eight journeys at once on two cores can push a healthy call past a tight timeout: the
    observer's doing, not the fault's. Run alone, only the fault shows. `seen` is updated with
    the second runs that were kept; returns every journey's result.
    """
    results = {n: check(o, contracts[n]) for n, o in seen.items()}
    for n in sorted(n for n, r in results.items() if not r.ok):
        again = rerun(n)
        second = check(again, contracts[n])
        if second.ok:
            seen[n], results[n] = again, second
    return results


def _verdicts(values: object, where: str) -> frozenset[str]:
    if isinstance(values, str) or not isinstance(values, Collection):
        raise UsageError(f"{where}: must be a collection of verdicts like {{'full', 'degraded'}}, got {values!r}")
    for v in values:
        if v not in VERDICTS:
            raise UsageError(f"{where}: unknown verdict {v!r}; verdicts are: {', '.join(VERDICTS)}")
        if v in NEVER_ACCEPTABLE:
            raise UsageError(f"{where}: {v!r} is never an acceptable verdict")
    return frozenset(values)
