"""Health gating shared by the runtimes: retry a check until it passes, fail fast if the service died (tenacity)."""

from __future__ import annotations

from typing import Callable

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from ..errors import MeshNotReady

__all__ = ["wait_until_healthy"]


class _NotYet(Exception):
    """A health check that has not passed yet (retried)."""


def wait_until_healthy(
    name: str,
    check: Callable[[], str],
    *,
    timeout_s: float,
    where: str,
    evidence: Callable[[], str],
    died: Callable[[], None] = lambda: None,
    interval_s: float = 0.02,
) -> None:
    """Retry `check` ('' means healthy) until it passes; `died` raises MeshNotReady at once if the service exited."""
    last = ["not checked yet"]

    def attempt() -> None:
        died()
        err = check()
        if err:
            last[0] = err
            raise _NotYet(err)

    try:
        for a in Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(interval_s),
                          retry=retry_if_exception_type(_NotYet)):
            with a:
                attempt()
    except RetryError:
        raise MeshNotReady(
            f"{name} never became healthy in {timeout_s:.1f} s; last check: {last[0]} on {where}" + evidence()
        ) from None
