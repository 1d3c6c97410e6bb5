"""The mesh's mode and brittle knobs, parsed once from CASCADE_MODE and CASCADE_BRITTLE (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from .errors import StartupError

__all__ = ["KNOBS", "Knobs", "parse_knobs", "knobs_from_env"]

# Each knob names a resilience mechanism that brittle mode switches off (see services/README.md).
KNOBS = (
    "timeouts",
    "retries",
    "breakers",
    "fallbacks",
    "config_validation",
    "entitlement_coupling",
    "links_via_gateway",
    "error_passthrough",
    "early_ack",
)
MODES = ("resilient", "brittle")


@dataclass(frozen=True)
class Knobs:
    """The mode and the set of knobs switched to their brittle behaviour."""

    mode: str = "resilient"
    brittle: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        unknown = sorted(self.brittle - set(KNOBS))
        if unknown:
            raise StartupError(f"unknown brittle knob {unknown[0]!r}; knobs are: {', '.join(KNOBS)}")

    def is_brittle(self, knob: str) -> bool:
        """True when `knob` is switched to its brittle behaviour."""
        if knob not in KNOBS:  # a typo in service code must not silently read as resilient
            raise KeyError(f"unknown knob {knob!r}; knobs are: {', '.join(KNOBS)}")
        return knob in self.brittle

    @property
    def names(self) -> list[str]:
        """The brittle knobs in their canonical order (what /counters reports)."""
        return [k for k in KNOBS if k in self.brittle]


def parse_knobs(mode: str, brittle: str) -> Knobs:
    """Parse the two environment values; an unknown mode or knob is a StartupError naming the known ones."""
    name = (mode or "resilient").strip().lower()
    if name not in MODES:
        raise StartupError(f"CASCADE_MODE={mode!r} is not a mode; modes are: {', '.join(MODES)}")
    chosen = [k.strip() for k in (brittle or "").split(",") if k.strip()]
    unknown = [k for k in chosen if k not in KNOBS]
    if unknown:
        raise StartupError(f"CASCADE_BRITTLE names unknown knob {unknown[0]!r}; knobs are: {', '.join(KNOBS)}")
    if name == "resilient":
        if chosen:
            raise StartupError(f"CASCADE_BRITTLE={brittle!r} needs CASCADE_MODE=brittle; it is resilient")
        return Knobs()
    # Brittle with no knob named means every knob: the contract's shorthand for "all of them".
    return Knobs("brittle", frozenset(chosen or KNOBS))


def knobs_from_env(environ: Mapping[str, str]) -> Knobs:
    """The knobs of this process, from its environment."""
    return parse_knobs(environ.get("CASCADE_MODE", "resilient"), environ.get("CASCADE_BRITTLE", ""))
