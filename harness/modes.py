"""Modes of the mesh: `resilient`, or `brittle` with all or some knobs switched off (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InvalidMode

__all__ = ["Mode", "parse_mode"]


@dataclass(frozen=True)
class Mode:
    """`resilient`, or `brittle` with the set of knobs turned brittle."""

    name: str
    knobs: frozenset[str] = frozenset()

    def __str__(self) -> str:
        if self.name == "brittle" and self.knobs:
            return f"brittle:{','.join(sorted(self.knobs))}"
        return self.name

    def env(self, knobs_env: str = "") -> dict[str, str]:
        """What every service of the mesh is told: CASCADE_MODE, CASCADE_BRITTLE, and the brittle knobs
        again under the system's own variable `knobs_env` ([mesh] knobs_env) when it has one."""
        knobs = ",".join(sorted(self.knobs))
        return {"CASCADE_MODE": self.name, "CASCADE_BRITTLE": knobs, **({knobs_env: knobs} if knobs_env else {})}


def parse_mode(text: str, knobs: tuple[str, ...] | list[str] = ()) -> Mode:
    """Parse `resilient`, `brittle` (every knob) or `brittle:k1,k2` against the topology's knobs."""
    raw = (text or "").strip()
    name, _, rest = raw.partition(":")
    name = name.strip().lower()
    if name == "resilient" and not rest:
        return Mode("resilient")
    if name != "brittle":
        raise InvalidMode(
            f"unknown mode {text!r}; use 'resilient', 'brittle' or 'brittle:KNOB[,KNOB...]'"
            + (f" with knobs from: {', '.join(knobs)}" if knobs else "")
        )
    if not rest.strip():
        if not knobs:
            raise InvalidMode("mode 'brittle' needs the topology to declare [mesh] knobs; this one declares none")
        return Mode("brittle", frozenset(knobs))
    chosen = [k.strip() for k in rest.split(",") if k.strip()]
    unknown = [k for k in chosen if k not in knobs]
    if unknown or not chosen:
        raise InvalidMode(
            f"unknown brittle knob {unknown[0] if unknown else rest!r} in mode {text!r}; "
            f"knobs are: {', '.join(knobs) or '(none declared)'}"
        )
    return Mode("brittle", frozenset(chosen))
