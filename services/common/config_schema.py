"""The config documents' schemas (pydantic): the config service's document, and the gateway's entitlements in etcd.

    config service (GET /config):
    {
      "rate_limits": {action: requests per minute}
      "features":    {flag: bool}
      "timeouts_ms": {dependency: ms, "request": ms}
      "retry":       {"attempts", "base_backoff_ms", "budget_ratio"}
      "breaker":     {"failure_threshold", "reset_timeout_ms"}
    }

    etcd key /chirp/entitlements (the gateway's entitlement rules):
    {
      "plans":       {"names": [...], "endpoint_access": {endpoint: [plan, ...]}},
      "tiers":       {tier: plan}        first_party and internal map to "free": the 2023 coupling
    }

Types are strict (no "100" for 100) and every section is required: a consumer that validates
rejects anything else and keeps its last-known-good document.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .config_default import DEFAULT_DOCUMENT, ENDPOINTS, PLANS, TIERS, default_document
from .errors import InvalidConfig

__all__ = [
    "DEFAULT_DOCUMENT",
    "ENDPOINTS",
    "PLANS",
    "TIERS",
    "ConfigDocument",
    "Entitlements",
    "InvalidConfig",
    "default_document",
    "validate_document",
    "validate_entitlements",
]


_STRICT = ConfigDict(strict=True, extra="forbid", frozen=True)
_Ms = Field(ge=1, le=60_000)


class Plans(BaseModel):
    """Which third-party plans exist and which endpoints each may call."""

    model_config = _STRICT
    names: list[str] = Field(min_length=1)
    endpoint_access: dict[str, list[str]]

    @model_validator(mode="after")
    def _known(self) -> Plans:
        missing = [e for e in ENDPOINTS if e not in self.endpoint_access]
        if missing:
            raise ValueError(f"endpoint_access lacks endpoint {missing[0]!r}")
        for endpoint, plans in self.endpoint_access.items():
            if endpoint not in ENDPOINTS:
                raise ValueError(f"endpoint_access names unknown endpoint {endpoint!r}")
            bad = [p for p in plans if p not in self.names]
            if bad:
                raise ValueError(f"endpoint_access.{endpoint} names unknown plan {bad[0]!r}")
        return self


class RateLimits(BaseModel):
    """Requests per minute per API key, per action."""

    model_config = _STRICT
    post: int = Field(ge=1, le=1_000_000)
    login: int = Field(ge=1, le=1_000_000)


class Timeouts(BaseModel):
    """Per-call timeouts per dependency, and the budget of a request that arrives without a deadline."""

    model_config = _STRICT
    request: int = _Ms
    auth: int = _Ms
    timeline: int = _Ms
    media: int = _Ms
    redis: int = _Ms
    # The config poller uses a compiled-in timeout so that no push can cut off config delivery;
    # this value is validated like the others but informational.
    config: int = _Ms
    gateway: int = _Ms
    links: int = _Ms


class RetryPolicy(BaseModel):
    """Attempts per call, the base of the jittered exponential backoff, and the retry budget."""

    model_config = _STRICT
    attempts: int = Field(ge=1, le=5)
    base_backoff_ms: int = Field(ge=0, le=2_000)
    budget_ratio: float = Field(ge=0.0, le=1.0)


class BreakerPolicy(BaseModel):
    """Consecutive failures that open a breaker, and how long it stays open."""

    model_config = _STRICT
    failure_threshold: int = Field(ge=1, le=1_000)
    reset_timeout_ms: int = Field(ge=10, le=600_000)


class ConfigDocument(BaseModel):
    """A whole, valid config document."""

    model_config = _STRICT
    rate_limits: RateLimits
    features: dict[str, bool]
    timeouts_ms: Timeouts
    retry: RetryPolicy
    breaker: BreakerPolicy


class Entitlements(BaseModel):
    """The gateway's entitlement rules: plans and the endpoints each may call, each tier's plan."""

    model_config = _STRICT
    plans: Plans
    tiers: dict[str, str]

    @model_validator(mode="after")
    def _tiers(self) -> Entitlements:
        for tier in TIERS:
            if tier not in self.tiers:
                raise ValueError(f"tiers lacks tier {tier!r}")
        for tier, plan in self.tiers.items():
            if tier not in TIERS:
                raise ValueError(f"tiers names unknown tier {tier!r}")
            if plan not in self.plans.names:
                raise ValueError(f"tiers.{tier} names unknown plan {plan!r}")
        return self


def validate_document(document: Any) -> ConfigDocument:
    """The validated document, or InvalidConfig naming the first problem."""
    return _validate(ConfigDocument, document)


def validate_entitlements(document: Any) -> Entitlements:
    """The validated entitlement rules, or InvalidConfig naming the first problem."""
    return _validate(Entitlements, document)


def _validate(model: Any, document: Any) -> Any:
    if document is None:
        raise InvalidConfig("the document is not valid JSON (or is null)")
    if not isinstance(document, dict):
        raise InvalidConfig(f"the document is a JSON {type(document).__name__}, not an object")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(_segment(p) for p in err["loc"]) or "document"
        raise InvalidConfig(f"{where}: {err['msg']}") from None


def _segment(part: Any) -> str:
    """One path segment as written, quoted when it is not a plain key: a pushed key may hold a newline."""
    text = str(part)
    return text if text and (text.isidentifier() or text.isdigit()) else repr(text)
