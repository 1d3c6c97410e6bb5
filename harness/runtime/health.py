"""Health gating shared by the runtimes: retry a check until it passes, fail fast if the service died (tenacity)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence

from tenacity import RetryError, Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from ..errors import MeshNotReady
from ..clients.probe import http_request, tcp_open
from ..topology import Service

__all__ = ["health_error", "restart_unhealthy", "wait_until_healthy"]


def health_error(svc: Service, host: str, port: int, timeout_s: float = 0.5, *, answered: bool = False) -> str:
    """'' if `svc` passes the topology's health check at host:port now, else what went wrong.

    With `answered`, any HTTP answer passes (the service is up, maybe still starting): what a
    process fault waits for after restarting a service.
    """
    if svc.http:
        r = http_request(host, port, "GET", svc.health, timeout_s=timeout_s)
        if r.status == 200 or (answered and r.status is not None):
            return ""
        return r.error or f"HTTP {r.status} from {svc.health}: {r.body[:200].decode(errors='replace')}"
    return tcp_open(host, port, timeout_s)


def restart_unhealthy(names: Sequence[str], check: Callable[[str], str], restart: Callable[[str], None]) -> list[str]:
    """Restart each service in `names` that fails `check` ('' = healthy) now; what was done, for reset.

    Running is not enough: a process can be up yet stuck (a config watcher that died on a bad
    document), and only a restart brings it back to the state its baseline was measured in.
    """
    with ThreadPoolExecutor(max_workers=max(1, len(names))) as pool:
        errors = dict(zip(names, pool.map(check, names)))
    actions = []
    for name, error in sorted(errors.items()):
        if error:
            restart(name)
            actions.append(f"restarted {name} (unhealthy: {error})")
    return actions


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
    state: str = "became healthy",
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
            f"{name} never {state} in {timeout_s:.1f} s; last check: {last[0]} on {where}" + evidence()
        ) from None
