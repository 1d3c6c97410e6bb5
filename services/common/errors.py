"""The exceptions Chirp services raise: a bad start-up environment and a failed dependency call."""

from __future__ import annotations

__all__ = ["DependencyFailure", "InvalidConfig", "StartupError"]


class StartupError(Exception):
    """The service cannot start: a missing or bad environment variable, named in the message."""


class InvalidConfig(ValueError):
    """A config document that fails the schema; the message names the first bad field."""


class DependencyFailure(Exception):
    """A call to a dependency failed after the mode's timeouts, retries and breaker had their say."""

    # kind: timeout, unreachable, error_status, breaker_open, no_time_left or redis_error. For
    # error_status, status, body and content_type hold the dependency's own answer, so a brittle
    # service can forward it verbatim (the error_passthrough knob).

    def __init__(
        self,
        callee: str,
        kind: str,
        detail: str,
        *,
        status: int | None = None,
        body: bytes = b"",
        content_type: str = "",
        retry_after_s: float = 1.0,
    ) -> None:
        super().__init__(f"{callee}: {kind}: {detail}")
        self.callee = callee
        self.kind = kind
        self.detail = detail
        self.status = status
        self.body = body
        self.content_type = content_type
        self.retry_after_s = retry_after_s
