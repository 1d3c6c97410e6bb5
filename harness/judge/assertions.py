"""Assertions that turn "we injected a fault" into "the system degraded gracefully", with evidence.

    chaos.assert_contracts()            every journey seen during the faults got an acceptable verdict
    chaos.assert_blast_radius()         no journey outside the faults' radius changed (a cascade)
    chaos.assert_recovers(within_s=2)   after revert, every journey is back to its baseline verdict
    chaos.assert_no_lost_writes(load)   every write acknowledged during the faults reads back
    chaos.assert_amplification("timeline->media", requests=n, at_most=3)   no retry storm

A failure raises AssertionError whose message is the evidence: which fault, on which edge, hit
which journeys in what order, a journeys x (baseline, during, after) table, the fault
timeline and the log tails of the touched services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from ..errors import UsageError
from .blast import BlastRadius, Cascade, blast_radius, find_cascades
from .contracts import ContractResult, check, contract_for, frozen_by
from .evidence import EvidenceRow, evidence_rows, render_failure
from ..observe.journeys import Recovery, find_lost_writes, wait_for_recovery
from .verdicts import Observation

if TYPE_CHECKING:
    from ..observe.load import Load
    from ..mesh import Mesh

__all__ = ["ChaosAssertions"]

LOG_TAIL = 15


class ChaosAssertions:
    """Mixed into `Chaos`: the assertions and the evidence they fail with."""

    mesh: Mesh
    during: dict[str, Observation]
    after: dict[str, Observation]
    recovery: Recovery | None
    calls_before: dict[str, Any]
    t0: float

    def faulted(self) -> tuple[frozenset[str], frozenset[str]]:  # provided by Chaos
        raise NotImplementedError

    # -- the assertions ----------------------------------------------------------

    def radius(self) -> BlastRadius:
        edges, services = self.faulted()
        return blast_radius(self.mesh.topology, edges=edges, services=services)

    def contract_results(self) -> dict[str, ContractResult]:
        radius = self.radius()
        frozen = frozen_by(ev.value for ev in getattr(self, "timeline", []) if ev.action == "applied")
        return {
            n: check(obs, contract_for(n, self.mesh.topology, radius=radius, frozen=frozen))
            for n, obs in sorted(self.during.items())
        }

    def assert_contracts(self) -> None:
        """Every journey observed during the faults came out with a verdict its contract allows."""
        __tracebackhide__ = True
        results = self.contract_results()
        if not any(not r.ok for r in results.values()):
            return
        raise AssertionError(self.evidence(results=results))

    def assert_blast_radius(self, *, latency_tolerance_ms: float = 500.0, latency_tolerance_ratio: float = 1.0) -> None:
        """No journey outside the faults' blast radius changed verdict or slowed beyond tolerance."""
        # The tolerance is the larger of the absolute and the relative one; 500 ms sits well below
        # the journeys' budgets (1-1.5 s) yet above what a busy 2-core machine adds to a sweep.
        __tracebackhide__ = True
        cascades = self.cascades(latency_tolerance_ms=latency_tolerance_ms, latency_tolerance_ratio=latency_tolerance_ratio)
        if cascades:
            raise AssertionError(self.evidence(cascades=cascades))

    def cascades(self, *, latency_tolerance_ms: float = 500.0, latency_tolerance_ratio: float = 1.0) -> list[Cascade]:
        """The journeys outside the faults' blast radius that changed verdict or slowed beyond tolerance."""
        return find_cascades(
            self.radius(), self.mesh.steady_state().observations(), self.during,
            latency_tolerance_ms=latency_tolerance_ms, latency_tolerance_ratio=latency_tolerance_ratio,
            labels=self._labels(),
        )

    def assert_recovers(self, *, within_s: float) -> Recovery:
        """After the faults are reverted, every journey is back to its baseline verdict within `within_s`."""
        __tracebackhide__ = True
        baseline = self.mesh.steady_state().verdicts()
        rec = wait_for_recovery(self.mesh, baseline, within_s=within_s, since=self._last_revert())
        self.recovery = rec
        self.after.update(rec.last)
        if not rec.recovered:
            raise AssertionError(
                f"not recovered within {within_s:.1f} s of the last revert: {', '.join(rec.still_off)} "
                f"still off their baseline\n" + self.evidence()
            )
        return rec

    def assert_no_lost_writes(self, load: Load, journey: str) -> int:
        """Every `journey` write the load saw acknowledged can be read back; returns how many were checked."""
        __tracebackhide__ = True
        lost = find_lost_writes(self.mesh, journey, load.acked(journey))
        if lost.lost or lost.unreadable:
            raise AssertionError(lost.message(journey) + "\n" + self.evidence())
        return lost.checked

    def amplification(self, edge: str, *, requests: int) -> float:
        """Calls the caller of `edge` made to its callee since the first fault, per journey request.

        The caller's counts come from the applied-version protocol (`calls_sent`,
        docs/service-protocol.md); a caller that does not report them cannot be judged, and
        UsageError says so rather than guessing.
        """
        from ..config.applied import Unknown, calls_sent

        e = self.mesh.topology.edge(edge)
        before = self.calls_before.get(e.caller)
        now = calls_sent(self.mesh, e.caller)
        for reading in (before, now):
            if reading is None or isinstance(reading, Unknown):
                why = reading.why if isinstance(reading, Unknown) else "no fault was applied in this test yet"
                raise UsageError(f"cannot judge retry amplification on {edge}: {e.caller} {why}; a service reports "
                                 "the calls it sent per callee as calls_sent at GET /cascade/v1/state "
                                 "(docs/service-protocol.md)")
        return (now.get(e.callee, 0) - before.get(e.callee, 0)) / max(1, requests)

    def assert_amplification(self, edge: str, *, requests: int, at_most: float) -> float:
        """The caller of `edge` sent at most `at_most` calls per journey request (no retry storm)."""
        __tracebackhide__ = True
        ratio = self.amplification(edge, requests=requests)
        if ratio > at_most:
            raise AssertionError(
                f"retry amplification on {edge}: {ratio:.1f} calls per journey request (bound {at_most}) "
                f"over {requests} requests: the caller retries a failing dependency into a storm\n" + self.evidence()
            )
        return ratio

    # -- evidence ----------------------------------------------------------------

    def evidence_rows(self, *, results: Mapping[str, ContractResult] | None = None, cascades: Any = ()) -> list[EvidenceRow]:
        """Every journey's baseline, during and after observations with its contract result and cascade."""
        return evidence_rows(
            baseline=self.mesh.steady_state().observations(),
            during=self.during,
            after=self.after,
            results=results if results is not None else self.contract_results(),
            cascades=cascades,
        )

    def touched_services(self) -> list[str]:
        """The services a fault acted on or whose edges it cut, sorted."""
        edges, services = self.faulted()
        sources = self.mesh.topology.config_sources
        consumers = {c for s in services if s.startswith("config:") for c in sources[s[len("config:"):]].consumers}
        return sorted({s for s in services if not s.startswith("config:")} | consumers
                      | {s for e in edges for s in e.split("->")})

    def evidence(self, *, results: Mapping[str, ContractResult] | None = None, cascades: Any = (),
                 logs: bool = True) -> str:
        """The failure report: headline, journeys x (baseline, during, after), timeline, log tails (unless `logs=False`)."""
        rows = self.evidence_rows(results=results, cascades=cascades)
        tails = {s: self.mesh.logs(s, LOG_TAIL) for s in self.touched_services()} if logs else {}
        timeline = getattr(self, "timeline", [])
        return render_failure(
            rows, events=timeline, logs=tails, tail=LOG_TAIL, origin_s=self.t0,
            recovery_s=self.recovery.seconds if self.recovery and self.recovery.recovered else None,
            faults=sorted({ev.fault for ev in timeline if ev.action == "applied"}),
        )

    def _labels(self) -> dict[str, str]:
        labels: dict[str, str] = {}
        for ev in getattr(self, "timeline", []):
            if ev.action == "applied":
                for t in ev.targets:
                    labels.setdefault(t, ev.fault)
        return labels

    def _last_revert(self) -> float | None:
        reverts = [ev.t_s for ev in getattr(self, "timeline", []) if ev.action == "reverted"]
        return self.t0 + max(reverts) if reverts else None
