"""Kubernetes names for a topology's services and edges (pure): valid, short enough, unique, stable.

    object names   DNS-1123 labels: a-z 0-9 '-', at most 63, a letter first (Services need it),
                   a letter or digit last. `auth_v2` -> `auth-v2`.
    edge names     `gateway->auth` -> `gateway-to-auth` (volume names and annotations)
    port names     IANA service names: at most 15, a-z 0-9 '-', a letter somewhere, no `--`.
                   `gateway->auth` -> `gateway-to-auth`; `gateway->timeline` -> `gateway-timelin`.

A name too long to fit, or one that would collide with a name given before it (names are given
in sorted order, so the same topology always gets the same names), ends in a short hash of the
original; nothing here depends on anything but its input.
"""

from __future__ import annotations

import hashlib
import re
from typing import Iterable, Mapping

__all__ = [
    "DNS_LABEL",
    "PORT_NAME",
    "dns_label",
    "edge_label",
    "is_dns_label",
    "is_port_name",
    "port_names",
    "unique_labels",
]

DNS_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
PORT_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$")


def _hash(text: str, n: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def is_dns_label(name: object) -> bool:
    """Whether `name` is a DNS-1123 label that also starts with a letter (what a Service name must be)."""
    return isinstance(name, str) and bool(DNS_LABEL.match(name))


def is_port_name(name: object) -> bool:
    """Whether `name` is a valid port name: at most 15 characters, a letter among them, no `--`."""
    return (isinstance(name, str) and bool(PORT_NAME.match(name)) and "--" not in name
            and any(c.isalpha() for c in name))


def dns_label(raw: str, max_len: int = 63) -> str:
    """`raw` as a DNS-1123 label of at most `max_len` characters (`auth_v2` -> `auth-v2`); a cut one ends in a hash."""
    name = re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")
    if not name or not name[0].isalpha():
        name = f"x-{name}".rstrip("-")
    if len(name) <= max_len:
        return name
    suffix = _hash(raw)
    return f"{name[:max_len - len(suffix) - 1].rstrip('-')}-{suffix}"


def unique_labels(raws: Iterable[str], *, taken: Iterable[str] = (), max_len: int = 63) -> dict[str, str]:
    """Each of `raws` -> a DNS-1123 label unique among them and `taken`: names valid as they are first, then sorted."""
    used = set(taken)
    out: dict[str, str] = {}
    for raw in sorted(set(raws), key=lambda r: (dns_label(r, max_len) != r, r)):
        name = dns_label(raw, max_len)
        if name in used:
            suffix = _hash(raw)
            name = f"{name[:max_len - len(suffix) - 1].rstrip('-')}-{suffix}"
        n = 2
        base = name
        while name in used:  # a hash collision: never seen, but a name must never be given twice
            name = f"{base[:max_len - len(str(n)) - 1]}-{n}"
            n += 1
        used.add(name)
        out[raw] = name
    return out


def edge_label(caller: str, callee: str, max_len: int = 63) -> str:
    """`caller-to-callee` from two labels, cut to `max_len` with a hash when too long."""
    name = f"{caller}-to-{callee}"
    if len(name) <= max_len:
        return name
    suffix = _hash(name)
    return f"{name[:max_len - len(suffix) - 1].rstrip('-')}-{suffix}"


def _short(caller: str, callee: str) -> str:
    """The most readable port name for an edge: `a-to-b`, else `a-b`, else both halves cut to fit 15."""
    caller, callee = re.sub(r"-+", "-", caller), re.sub(r"-+", "-", callee)
    for name in (f"{caller}-to-{callee}", f"{caller}-{callee}"):
        if len(name) <= 15:
            return name
    budget = 14  # 15 less the `-` between the halves
    a = min(len(caller), max(budget - len(callee), budget // 2))
    b = budget - a
    return f"{caller[:a].rstrip('-')}-{callee[:b].rstrip('-')}"


def port_names(edges: Mapping[str, tuple[str, str]]) -> dict[str, str]:
    """Edge name -> a port name unique among them; `edges` maps each edge to its (caller, callee) labels.

    Edges are named in sorted order; one whose readable name is taken (or not valid) is named
    `e-` and a hash of the edge instead, so adding an edge never renames an earlier one's port
    unless their short names collide.
    """
    used: set[str] = set()
    out: dict[str, str] = {}
    for edge in sorted(edges):
        caller, callee = edges[edge]
        name = _short(caller, callee)
        if not is_port_name(name) or name in used:
            name = f"e-{_hash(edge, 10)}"
        n = 2
        base = name
        while name in used or not is_port_name(name):
            name = f"{base[:15 - len(str(n)) - 1]}-{n}"
            n += 1
        used.add(name)
        out[edge] = name
    return out
