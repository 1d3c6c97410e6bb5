"""What a service does with each config version it sees: validate and keep last-known-good, or apply raw (pure).

    offer(state, version, document) ──validate──> applied       (a new view)
                                     └─invalid──> rejected      (the last-known-good view stays;
                                                                 /counters counts config_last_known_good)
    with the config_validation knob brittle: applied as-is, and the raw view fails at use time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .config_default import DEFAULT_DOCUMENT
from .errors import InvalidConfig

__all__ = [
    "BreakerSettings",
    "ConfigState",
    "ConfigView",
    "RetrySettings",
    "initial_state",
    "offer",
    "validated_view",
]


@dataclass(frozen=True)
class RetrySettings:
    """How a caller retries: attempts, backoff base and the retry budget's ratio."""

    attempts: int
    base_backoff_ms: float
    budget_ratio: float


@dataclass(frozen=True)
class BreakerSettings:
    """When a breaker opens and for how long."""

    failure_threshold: int
    reset_timeout_ms: float


@dataclass(frozen=True)
class ConfigView:
    """The questions services ask of the config, answered from one document (validated or as pushed)."""

    # Unvalidated (the config_validation knob brittle), the document is used as pushed: a missing
    # section raises KeyError or TypeError, a wrong type flows on, a 0 ms timeout or a limit of 0
    # is used, and the damage shows up where the value is used, as in the real incidents.

    doc: Any
    validated: bool = True

    def timeout_ms(self, dependency: str) -> float:
        return self.doc["timeouts_ms"][dependency]

    def rate_limit(self, action: str) -> int:
        return self.doc["rate_limits"][action]

    def retry(self) -> RetrySettings:
        r = self.doc["retry"]
        return RetrySettings(r["attempts"], r["base_backoff_ms"], r["budget_ratio"])

    def breaker(self) -> BreakerSettings:
        b = self.doc["breaker"]
        return BreakerSettings(b["failure_threshold"], b["reset_timeout_ms"])

    def feature(self, name: str, default: bool = True) -> bool:
        return self.doc["features"].get(name, default)


def validated_view(document: Any) -> ConfigView:
    """A validated view of `document`, or InvalidConfig naming its first problem."""
    # The built-in default is known good (a unit test validates it), so it needs no pydantic:
    # that keeps pydantic's import out of every service's start-up.
    if document == DEFAULT_DOCUMENT:
        return ConfigView(DEFAULT_DOCUMENT)
    from .config_schema import validate_document

    return ConfigView(validate_document(document).model_dump())


@dataclass(frozen=True)
class ConfigState:
    """The version in use, the newest version seen, and which versions were rejected."""

    view: ConfigView
    applied_version: int = 0
    latest_version: int = 0
    rejected: tuple[int, ...] = ()
    last_error: str = ""

    @property
    def loaded(self) -> bool:
        """True once any version was seen (applied or rejected in favour of a known-good one)."""
        return self.latest_version > 0

    @property
    def on_last_known_good(self) -> bool:
        """True when the newest version was rejected and an older (or the built-in) one is in use."""
        return self.latest_version in self.rejected


def initial_state() -> ConfigState:
    """Before the first fetch: the built-in default, version 0 (not yet loaded)."""
    return ConfigState(view=ConfigView(DEFAULT_DOCUMENT))


def offer(state: ConfigState, version: int, document: Any, *, validate: bool) -> tuple[ConfigState, str]:
    """The state after seeing `version`, and a log line ('' if nothing changed)."""
    if version == state.latest_version:
        return state, ""
    if not validate:
        return ConfigState(ConfigView(document, validated=False), version, version), \
            f"config version {version} applied unvalidated"
    try:
        view = validated_view(document)
    except InvalidConfig as exc:
        # The view in `state` is the last known good one (the built-in default before any load).
        kept = state.applied_version or "built-in default"
        new = ConfigState(state.view, state.applied_version, version, state.rejected + (version,), str(exc))
        return new, f"config version {version} rejected: {exc}; keeping version {kept} (last known good)"
    return ConfigState(view, version, version, state.rejected), f"config version {version} applied"
