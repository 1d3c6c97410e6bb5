"""The gateway's entitlement rules, read from etcd: seeded when absent, polled, validated, last known good kept.

    etcd key /chirp/entitlements ──poll every 100 ms (v3 JSON gateway, through the gateway->etcd edge)──>
        new mod_revision ──validate──> applied       log "entitlements revision N applied"
                         └─invalid──> rejected       log "entitlements revision N rejected: <why>; keeping ..."
    with the config_validation knob brittle: applied as-is ("applied unvalidated"), failing at use time.

An empty etcd gets the built-in rules, written only if the key is still absent (a transaction on
its create_revision), so a rule someone wrote is never overwritten. GET /internal/entitlements
answers {"revision", "sha256", "rejected"}: what the gateway runs, for operators (and Cascade's
applied check). A poll that fails keeps the rules in use.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from .config_default import DEFAULT_ENTITLEMENTS, ENTITLEMENTS_KEY
from .errors import InvalidConfig

__all__ = ["EntitlementsState", "EntitlementsView", "EntitlementsWatcher", "offer_entitlements"]

POLL_INTERVAL_S = 0.1
POLL_TIMEOUT_S = 0.5  # compiled in: no rule may cut the gateway off from its rules
log = logging.getLogger("chirp")


@dataclass(frozen=True)
class EntitlementsView:
    """Which plans may call an endpoint, and a tier's plan; validated, or as written with validation off."""

    doc: Any
    validated: bool = True

    def endpoint_plans(self, endpoint: str) -> list[str]:
        access = self.doc["plans"]["endpoint_access"]
        return access.get(endpoint, []) if self.validated else access[endpoint]

    def tier_plan(self, tier: str) -> str:
        return self.doc["tiers"][tier]


@dataclass(frozen=True)
class EntitlementsState:
    """The rules in use, the etcd revision they came from (0: built in), their sha256, revisions refused."""

    view: EntitlementsView
    revision: int = 0
    sha256: str = ""
    latest: int = 0
    rejected: tuple[int, ...] = ()


def offer_entitlements(state: EntitlementsState, revision: int, raw: bytes, *,
                       validate: bool) -> tuple[EntitlementsState, str]:
    """The state after seeing `raw` at `revision`, and a log line ('' if nothing changed) (pure)."""
    if revision == state.latest:
        return state, ""
    sha = hashlib.sha256(raw).hexdigest()
    try:
        document: Any = json.loads(raw)
    except ValueError:
        document = None
    if not validate:
        return EntitlementsState(EntitlementsView(document, validated=False), revision, sha, revision, state.rejected), \
            f"entitlements revision {revision} applied unvalidated (sha256 {sha[:12]})"
    try:
        from .config_schema import validate_entitlements

        view = EntitlementsView(validate_entitlements(document).model_dump())
    except InvalidConfig as exc:
        kept = state.revision or "built-in rules"
        return EntitlementsState(state.view, state.revision, state.sha256, revision, state.rejected + (revision,)), \
            f"entitlements revision {revision} rejected: {exc}; keeping revision {kept} (last known good)"
    return EntitlementsState(view, revision, sha, revision, state.rejected), \
        f"entitlements revision {revision} applied (sha256 {sha[:12]})"


class EntitlementsWatcher:
    """Polls one etcd key for a service; `view()` is the rules in use."""

    def __init__(self, runtime: Any, etcd_url: str, *, key: str = ENTITLEMENTS_KEY) -> None:
        self.rt, self.url, self.key = runtime, etcd_url, key
        self.state = EntitlementsState(EntitlementsView(DEFAULT_ENTITLEMENTS))
        self.loaded = False
        self._b64key = base64.b64encode(key.encode()).decode()
        self._last_error = ""

    def view(self) -> EntitlementsView:
        return self.state.view

    def answer(self) -> dict[str, Any]:
        return {"revision": self.state.revision, "sha256": self.state.sha256, "rejected": list(self.state.rejected)}

    async def first_load(self) -> None:
        """A start-up step: done once the rules were read from etcd (seeding them if absent)."""
        await self.poll()
        if not self.loaded:
            raise RuntimeError(self._last_error or f"no {self.key} in etcd yet")

    async def run(self) -> None:
        """Poll until cancelled."""
        while True:
            await self.poll()
            await asyncio.sleep(POLL_INTERVAL_S)

    async def poll(self) -> None:
        validate = not self.rt.knobs.is_brittle("config_validation")
        self.rt.counters.calls["etcd"] += 1
        try:
            async with asyncio.timeout(POLL_TIMEOUT_S):
                answer = await self._post("/v3/kv/range", {"key": self._b64key})
                kvs = answer.get("kvs") or []
                if not kvs:
                    await self._seed()
                    raise LookupError(f"no {self.key} in etcd; seeded the built-in rules")
                raw = base64.b64decode(kvs[0].get("value", ""))
                revision = int(kvs[0]["mod_revision"])
        except Exception as exc:  # noqa: BLE001 - keep the rules in use and poll again
            msg = f"{type(exc).__name__}: {exc}"
            if msg != self._last_error:
                log.warning("entitlements poll failed (keeping revision %s): %s", self.state.revision or "built-in", msg)
                self._last_error = msg
            return
        self._last_error = ""
        self.state, line = offer_entitlements(self.state, revision, raw, validate=validate)
        if line:
            (log.warning if "rejected" in line else log.info)(line)
        self.loaded = True

    async def _seed(self) -> None:
        value = base64.b64encode(json.dumps(DEFAULT_ENTITLEMENTS, indent=2).encode()).decode()
        await self._post("/v3/kv/txn", {
            "compare": [{"key": self._b64key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
            "success": [{"request_put": {"key": self._b64key, "value": value}}],
        })

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        r = await self.rt.http.post(self.url + path, json=body)
        if r.status_code != 200:
            raise ValueError(f"POST {path} answered {r.status_code}")
        data = r.json()
        if not isinstance(data, dict):
            raise ValueError(f"POST {path} answered {type(data).__name__}")
        return data
