"""Observing the mesh: journeys run and classified, steady state, recovery, bounded load.

The names of harness.observe.journeys are re-exported here (their old module path)."""

from .journeys import (  # noqa: F401 - re-exported
    Baseline,
    LostWrites,
    Recovery,
    SteadyState,
    acked_id,
    find_lost_writes,
    measure_steady_state,
    run_journey,
    run_journey_with_body,
    run_journeys,
    wait_for_recovery,
)

__all__ = [
    "Baseline",
    "LostWrites",
    "Recovery",
    "SteadyState",
    "acked_id",
    "find_lost_writes",
    "measure_steady_state",
    "run_journey",
    "run_journey_with_body",
    "run_journeys",
    "wait_for_recovery",
]
