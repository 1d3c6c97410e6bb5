"""A small typed client of Toxiproxy's HTTP API: timeouts on every call, raise on every non-2xx, verified writes."""

from __future__ import annotations

import http.client
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, NoReturn, Sequence
from urllib.parse import quote, urlsplit

from ..errors import ToxiproxyError, ToxiproxyUnreachable, UsageError, VerificationFailed
from .transport import HTTPTransport, Transport

__all__ = ["HTTPTransport", "Proxy", "ProxySpec", "Toxic", "ToxiproxyClient", "Transport"]

STREAMS = ("downstream", "upstream")

# What to do next, by status; Toxiproxy 2.12.0 only answers these (api.go's ApiError values).
_HINTS = {
    400: "the request was malformed: check the toxic type, stream and attribute names",
    404: "it does not exist: list what does with proxies() or toxics(proxy)",
    409: "it already exists: remove it first or update it instead",
}


@dataclass(frozen=True)
class Toxic:
    """One toxic as Toxiproxy stores it: name, type, stream, toxicity and attributes."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, Any] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """The JSON body for POST /proxies/{proxy}/toxics."""
        return {
            "name": self.name,
            "type": self.type,
            "stream": self.stream,
            "toxicity": self.toxicity,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True)
class ProxySpec:
    """What to create: a named proxy listening on `listen`, forwarding to `upstream`."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True


@dataclass(frozen=True)
class Proxy:
    """A proxy as the server reports it (listen is the real bound address)."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    toxics: tuple[Toxic, ...] = ()


class ToxiproxyClient:
    """One Toxiproxy server's API: every call has a timeout, every non-2xx raises, every write is read back."""

    def __init__(
        self, url: str, *, timeout_s: float = 2.0, transport: Transport | None = None, verify: bool = True
    ) -> None:
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme != "http" or not parts.hostname or port is None:
            raise UsageError(f"Toxiproxy URL must look like http://127.0.0.1:8474, got {url!r}")
        if timeout_s <= 0:
            raise UsageError(f"ToxiproxyClient.timeout_s must be > 0, got {timeout_s}")
        self.url = url.rstrip("/")
        self.timeout_s = timeout_s
        self.verify = verify
        self._base = parts.path.rstrip("/")
        self._transport: Transport = transport or HTTPTransport(parts.hostname, port)

    def __enter__(self) -> ToxiproxyClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection to the server (if the transport keeps one)."""
        close = getattr(self._transport, "close", None)
        if close is not None:
            close()

    def version(self) -> str:
        """The server's version string, e.g. '2.12.0'."""
        data = self._call("GET", "/version", None, "report its version")
        return str(_field(data, "version", "report its version"))

    def proxies(self) -> dict[str, Proxy]:
        """Every proxy by name, with its toxics."""
        return _proxy_map(self._call("GET", "/proxies", None, "list proxies"))

    def proxy(self, name: str) -> Proxy:
        """One proxy by name, with its toxics."""
        doing = f"show proxy {name!r}"
        return _parse(_proxy, self._call("GET", _path(name), None, doing), doing)

    def create_proxy(self, spec: ProxySpec) -> Proxy:
        """Create one proxy; its listen port is bound at once when enabled."""
        doing = f"create proxy {spec.name!r} ({spec.listen} -> {spec.upstream})"
        created = _parse(_proxy, self._call("POST", "/proxies", _spec_payload(spec), doing), doing)
        if self.verify:
            _expect_proxy(doing, spec, self._read_back_proxy(spec.name))
        return created

    def populate(self, specs: Sequence[ProxySpec]) -> dict[str, Proxy]:
        """Create or replace many proxies in one request (identical existing proxies are kept as they are)."""
        doing = f"populate {len(specs)} proxies"
        data = self._call("POST", "/populate", [_spec_payload(s) for s in specs], doing)
        created = {p.name: p for p in _parse(lambda d: [_proxy(x) for x in d["proxies"] or ()], data, doing)}
        if self.verify:
            current = self.proxies()
            for spec in specs:
                _expect_proxy(doing, spec, current.get(spec.name))
        return created

    def update_proxy(
        self, name: str, *, listen: str | None = None, upstream: str | None = None, enabled: bool | None = None
    ) -> Proxy:
        """Change a proxy's listen address, upstream or enabled state; fields left None keep their value."""
        changes = {k: v for k, v in (("listen", listen), ("upstream", upstream), ("enabled", enabled)) if v is not None}
        if not changes:
            raise UsageError(f"update_proxy({name!r}) needs at least one of listen=, upstream=, enabled=")
        doing = f"update proxy {name!r} with {changes}"
        updated = _parse(_proxy, self._call("PATCH", _path(name), changes, doing), doing)
        if self.verify:
            got = self._read_back_proxy(name)
            if got is None:
                _disagree(doing, changes, None, [f"proxy {name!r} is gone"])
            wrong = [
                f"{key}={value!r} (server has {getattr(got, key)!r})"
                for key, value in changes.items()
                if not (_listen_matches(value, got.listen) if key == "listen" else getattr(got, key) == value)
            ]
            if wrong:
                _disagree(doing, changes, got, wrong)
        return updated

    def enable(self, name: str) -> Proxy:
        """Start the proxy listening again."""
        return self.update_proxy(name, enabled=True)

    def disable(self, name: str) -> Proxy:
        """Stop the proxy listening and drop its connections (new connections are refused)."""
        return self.update_proxy(name, enabled=False)

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy and close its listener."""
        doing = f"delete proxy {name!r}"
        self._call("DELETE", _path(name), None, doing)
        if self.verify:
            status, text = self._send("GET", _path(name), None, doing)
            if status != 404:
                _disagree(doing, "404 proxy not found", f"{status} {text.strip()}", ["the proxy is still there"])

    def toxics(self, proxy: str) -> tuple[Toxic, ...]:
        """The toxics on one proxy: upstream ones first, then downstream, each stream in the order they apply."""
        doing = f"list toxics of proxy {proxy!r}"
        return _parse(_toxic_tuple, self._call("GET", _path(proxy, "toxics"), None, doing), doing)

    def add_toxic(self, proxy: str, toxic: Toxic) -> Toxic:
        """Add a toxic to a proxy; it applies to new and existing connections."""
        doing = f"add toxic {toxic.name!r} to proxy {proxy!r}"
        added = _parse(_toxic, self._call("POST", _path(proxy, "toxics"), toxic.payload(), doing), doing)
        if self.verify:
            self._expect_toxic(doing, proxy, toxic.name, toxic)
        return added

    def update_toxic(
        self, proxy: str, name: str, *, toxicity: float | None = None, attributes: Mapping[str, Any] | None = None
    ) -> Toxic:
        """Change a toxic's toxicity or some of its attributes; the others keep their value."""
        changes: dict[str, Any] = {}
        if toxicity is not None:
            changes["toxicity"] = toxicity
        if attributes is not None:
            changes["attributes"] = dict(attributes)
        if not changes:
            raise UsageError(f"update_toxic({proxy!r}, {name!r}) needs toxicity=, attributes= or both")
        doing = f"update toxic {name!r} on proxy {proxy!r} with {changes}"
        updated = _parse(_toxic, self._call("PATCH", _path(proxy, "toxics", name), changes, doing), doing)
        if self.verify:
            want = Toxic(name, updated.type, updated.stream, updated.toxicity if toxicity is None else toxicity,
                         attributes if attributes is not None else {})
            self._expect_toxic(doing, proxy, name, want)
        return updated

    def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic from a proxy."""
        doing = f"remove toxic {name!r} from proxy {proxy!r}"
        self._call("DELETE", _path(proxy, "toxics", name), None, doing)
        if self.verify:
            left = self.toxics(proxy)
            if any(t.name == name for t in left):
                _disagree(doing, f"no toxic named {name!r}", [t.name for t in left], ["the toxic is still there"])

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        doing = "reset (enable all proxies, remove all toxics)"
        self._call("POST", "/reset", None, doing)
        if self.verify:
            current = self.proxies().values()
            wrong = [f"{p.name}: enabled={p.enabled} toxics={[t.name for t in p.toxics]}"
                     for p in current if not p.enabled or p.toxics]
            if wrong:
                _disagree(doing, "all proxies enabled with no toxics", wrong, wrong)

    def _read_back_proxy(self, name: str) -> Proxy | None:
        try:
            return self.proxy(name)
        except ToxiproxyError as exc:
            if exc.status == 404:
                return None
            raise

    def _expect_toxic(self, doing: str, proxy: str, name: str, want: Toxic) -> None:
        status, text = self._send("GET", _path(proxy, "toxics", name), None, doing)
        if status == 404:
            _disagree(doing, want, None, [f"toxic {name!r} is not on proxy {proxy!r}: {text.strip()}"])
        got = _parse(_toxic, self._json(status, text, f"read back toxic {name!r} on proxy {proxy!r}"), doing)
        wrong = _toxic_differences(want, got)
        if wrong:
            _disagree(doing, want, got, wrong)

    def _call(self, method: str, path: str, payload: Any, doing: str) -> Any:
        status, text = self._send(method, path, payload, doing)
        return self._json(status, text, doing)

    def _json(self, status: int, text: str, doing: str) -> Any:
        if not 200 <= status < 300:
            error = _server_error(text)
            hint = _HINTS.get(status, "see the toxiproxy-server log")
            raise ToxiproxyError(f"Toxiproxy refused to {doing}: {status} {error}; {hint}", status=status, body=text)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ToxiproxyError(
                f"Toxiproxy answered {doing} with {status} but a body that is not JSON: {text[:200]!r}; "
                f"is {self.url} really a toxiproxy-server?", status=status, body=text) from None

    def _send(self, method: str, path: str, payload: Any, doing: str) -> tuple[int, str]:
        body = None if payload is None else json.dumps(payload).encode()
        try:
            status, raw = self._transport.request(method, self._base + path, body, self.timeout_s)
        except (OSError, http.client.HTTPException) as exc:
            cause = (f"no answer within {self.timeout_s:g} s" if isinstance(exc, TimeoutError)
                     else f"{type(exc).__name__}: {getattr(exc, 'strerror', None) or exc}")
            raise ToxiproxyUnreachable(
                f"Toxiproxy at {self.url} did not answer while trying to {doing}: {cause}; "
                "is toxiproxy-server still running?") from exc
        return status, raw.decode("utf-8", "replace")


def _path(proxy: str, *rest: str) -> str:
    # Edge names contain '->'; gorilla/mux matches on the decoded path, so quoting is safe.
    return "/proxies/" + "/".join(quote(part, safe="") for part in (proxy, *rest))


def _spec_payload(spec: ProxySpec) -> dict[str, Any]:
    return {"name": spec.name, "listen": spec.listen, "upstream": spec.upstream, "enabled": spec.enabled}


def _server_error(text: str) -> str:
    """The server's error text: api.go sends {"error": ..., "status": ...}."""
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text.strip() or "(empty body)"


def _field(data: Any, key: str, doing: str) -> Any:
    return _parse(lambda d: d[key], data, doing)


def _parse(parse: Any, data: Any, doing: str) -> Any:
    try:
        return parse(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ToxiproxyError(
            f"Toxiproxy answered {doing} with an unexpected shape ({exc!r}): {str(data)[:200]}; "
            "is it really toxiproxy-server 2.x?", body=json.dumps(data)) from None


def _toxic(data: Mapping[str, Any]) -> Toxic:
    return Toxic(
        name=data["name"],
        type=data["type"],
        stream=data.get("stream", "downstream"),
        toxicity=float(data.get("toxicity", 1.0)),
        attributes=dict(data.get("attributes") or {}),
    )


def _toxic_tuple(data: Sequence[Mapping[str, Any]] | None) -> tuple[Toxic, ...]:
    return tuple(_toxic(t) for t in data or ())


def _proxy(data: Mapping[str, Any]) -> Proxy:
    return Proxy(
        name=data["name"],
        listen=data["listen"],
        upstream=data["upstream"],
        enabled=bool(data["enabled"]),
        toxics=_toxic_tuple(data.get("toxics")),
    )


def _proxy_map(data: Mapping[str, Any]) -> dict[str, Proxy]:
    return _parse(lambda d: {name: _proxy(p) for name, p in d.items()}, data, "list proxies")


def _listen_matches(requested: str, actual: str) -> bool:
    """True when the bound address honours the request (port 0 means any free port)."""
    port = requested.rpartition(":")[2]
    return port in ("", "0") or port == actual.rpartition(":")[2]


def _expect_proxy(doing: str, spec: ProxySpec, got: Proxy | None) -> None:
    if got is None:
        _disagree(doing, spec, None, [f"proxy {spec.name!r} is missing"])
    wrong = [f"{k}: expected {getattr(spec, k)!r}, server has {getattr(got, k)!r}"
             for k in ("upstream", "enabled") if getattr(spec, k) != getattr(got, k)]
    if not _listen_matches(spec.listen, got.listen):
        wrong.append(f"listen: expected {spec.listen!r}, server has {got.listen!r}")
    if wrong:
        _disagree(doing, spec, got, wrong)


def _toxic_differences(want: Toxic, got: Toxic) -> list[str]:
    """What differs; the server fills in attributes the request left out, so only requested ones count."""
    wrong = [f"{k}: expected {getattr(want, k)!r}, server has {getattr(got, k)!r}"
             for k in ("type", "stream") if getattr(want, k) != getattr(got, k)]
    # Toxicity is a float32 on the server.
    if not math.isclose(want.toxicity, got.toxicity, abs_tol=1e-6):
        wrong.append(f"toxicity: expected {want.toxicity!r}, server has {got.toxicity!r}")
    for key, value in want.attributes.items():
        if key not in got.attributes:
            wrong.append(f"attribute {key!r} is unknown to a {got.type} toxic (it has {sorted(got.attributes)})")
        elif got.attributes[key] != value:
            wrong.append(f"attribute {key!r}: expected {value!r}, server has {got.attributes[key]!r}")
    return wrong


def _disagree(doing: str, expected: Any, actual: Any, wrong: Sequence[str]) -> NoReturn:
    raise VerificationFailed(
        f"Toxiproxy accepted the request to {doing} but reading it back disagrees: {'; '.join(wrong)}. "
        f"Expected {expected!r}, actual {actual!r}. Another client may be changing the same server, "
        "or the server ignored part of the request; check the names and call reset() to get back to baseline."
    )
