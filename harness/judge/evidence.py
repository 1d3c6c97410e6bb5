"""Evidence: the plain-text story of a failed scenario, from values only (pure, deterministic, no ANSI).

    render_failure
    ├── headline        which fault, on which edge, hit which journeys in what order, recovery
    ├── evidence_table  journeys x baseline/during/after (verdict, latency) + contract column
    ├── problems        each broken contract and each cascade, one sentence apiece
    ├── timeline_table  +t  applied/reverted  fault
    └── log tails       the last lines of each touched service's log

Journeys are sorted by name and every number has a fixed format, so the output can be
compared as a snapshot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .blast import Cascade
from .contracts import ContractResult
from ..errors import UsageError
from .verdicts import Observation

__all__ = [
    "EvidenceRow",
    "evidence_rows",
    "evidence_table",
    "render_failure",
    "timeline_table",
]

_PHASES = ("baseline", "during", "after")
_LEAK_MARK = "!"
_GAP = "   "
# CSI/OSC escape sequences, then any other control character except tab.
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[@-_])|[\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class EvidenceRow:
    """One journey's line: its observations before, during and after the faults, and its judgements."""

    journey: str
    baseline: Observation | None = None
    during: Observation | None = None
    after: Observation | None = None
    contract: ContractResult | None = None
    cascade: Cascade | None = None

    @property
    def broken(self) -> bool:
        """True when the journey broke its contract or cascaded."""
        return (self.contract is not None and not self.contract.ok) or self.cascade is not None


def evidence_rows(
    *,
    baseline: Mapping[str, Observation] | None = None,
    during: Mapping[str, Observation] | None = None,
    after: Mapping[str, Observation] | None = None,
    results: Mapping[str, ContractResult] | None = None,
    cascades: Iterable[Cascade] = (),
) -> list[EvidenceRow]:
    """Zip per-journey mappings into rows, sorted by journey."""
    by_journey = {c.journey: c for c in cascades}
    maps = (baseline or {}, during or {}, after or {}, results or {})
    names = sorted(set().union(*maps, by_journey))
    return [
        EvidenceRow(n, maps[0].get(n), maps[1].get(n), maps[2].get(n), maps[3].get(n), by_journey.get(n))
        for n in names
    ]


def evidence_table(rows: Iterable[EvidenceRow]) -> str:
    """A fixed-width table: journey, baseline, during, after (verdict and ms), contract."""
    rows = sorted(rows, key=lambda r: r.journey)
    vwidth = {
        p: max([len(_mark(getattr(r, p))) for r in rows if getattr(r, p) is not None], default=0) for p in _PHASES
    }
    table = [["journey", *_PHASES, "contract"]]
    for r in rows:
        cells = [_cell(getattr(r, p), vwidth[p]) for p in _PHASES]
        table.append([r.journey, *cells, _judgement(r)])
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    lines = [_GAP.join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in table]
    if any(o is not None and o.leaked for r in rows for o in (r.baseline, r.during, r.after)):
        lines.append(f"{_LEAK_MARK} = the error body leaks an internal message")
    return "\n".join(lines)


def timeline_table(events: Iterable[Any], *, origin_s: float = 0.0) -> str:
    """The fault timeline, one event a line: `+0.212s  applied   Latency(timeline->media, ms=2000)`."""
    parsed = sorted((_event(e) for e in events), key=lambda e: e[0])
    if not parsed:
        return "(no faults applied)"
    times = [f"{t - origin_s:+.3f}s" for t, *_ in parsed]
    twidth = max(len(t) for t in times)
    awidth = max(8, *(len(a) for _, a, _, _, _ in parsed))
    lines = []
    for stamp, (_, action, fault, targets, detail) in zip(times, parsed):
        where = [t for t in targets if t not in fault]
        extra = (f"  on {', '.join(where)}" if where else "") + (f"  ({detail})" if detail else "")
        lines.append(_plain(f"{stamp.rjust(twidth)}  {action.ljust(awidth)}  {fault}{extra}").rstrip())
    return "\n".join(lines)


def render_failure(
    rows: Iterable[EvidenceRow],
    *,
    events: Iterable[Any] = (),
    logs: Mapping[str, Sequence[str]] | None = None,
    tail: int = 20,
    recovery_s: float | None = None,
    origin_s: float | None = None,
    faults: Sequence[str] = (),
) -> str:
    """The whole failure report: headline, evidence table, problems, fault timeline, log tails."""
    # Events carry seconds since the chaos started; origin_s is that instant on the monotonic
    # clock, which puts observations (at_s) on the same axis. Without it their times are omitted.
    if isinstance(tail, bool) or not isinstance(tail, int) or tail < 0:
        raise UsageError(f"render_failure: tail must be a whole number of lines >= 0, got {tail!r}")
    rows = sorted(rows, key=lambda r: r.journey)
    events = list(events)
    parts = [_headline(rows, events, faults, recovery_s, origin_s), "", "journeys:", evidence_table(rows)]
    problems = [r.contract.message for r in rows if r.contract is not None and not r.contract.ok]
    problems += [r.cascade.message for r in rows if r.cascade is not None]
    if problems:
        parts += ["", "problems:", *(f"  {_plain(p)}" for p in problems)]
    parts += ["", "fault timeline:", timeline_table(events)]
    for service in sorted(logs or {}):
        lines = [_plain(_text(line).rstrip("\r\n")) for line in (logs or {})[service]]
        shown = lines[-tail:] if tail else []
        parts += ["", f"log tail: {service} (last {len(shown)} of {len(lines)} lines)"]
        parts += [f"  {line}".rstrip() for line in shown] or ["  (empty)"]
    return "\n".join(parts) + "\n"


# -- pieces ----------------------------------------------------------------


def _headline(
    rows: list[EvidenceRow], events: list[Any], faults: Sequence[str], recovery_s: float | None, origin_s: float | None
) -> str:
    named: dict[str, tuple[str, ...]] = {f: () for f in faults}
    for _, action, fault, targets, _ in (_event(e) for e in events):
        if action == "applied" and fault not in named:
            named[fault] = targets
    if named:
        shown = [f"{f} on {', '.join(_target(t) for t in ts)}" if ts else f for f, ts in named.items()]
        line1 = ("fault: " if len(shown) == 1 else "faults: ") + "; ".join(shown)
    else:
        line1 = "fault: none recorded"
    hit = [r for r in rows if r.during is not None and (_changed(r) or r.broken)]
    hit.sort(key=lambda r: (r.during.at_s, r.journey))  # type: ignore[union-attr]
    if hit:
        line2 = "hit, in order: " + ", ".join(_hit(r, origin_s) for r in hit)
    else:
        line2 = "hit: no journey changed verdict"
    line3 = "recovery: not measured" if recovery_s is None else f"recovery: {recovery_s:.3f}s after the last revert"
    return _plain("\n".join((line1, line2, line3)))


def _hit(row: EvidenceRow, origin_s: float | None) -> str:
    during = row.during
    assert during is not None  # filtered by the caller
    notes = [] if origin_s is None else [f"{during.at_s - origin_s:+.3f}s"]
    if row.cascade is not None:
        notes.append("cascade")
    elif row.contract is not None and not row.contract.ok:
        notes.append("broke its contract")
    return f"{row.journey} {during.verdict}" + (f" ({', '.join(notes)})" if notes else "")


def _changed(row: EvidenceRow) -> bool:
    return row.baseline is not None and row.during is not None and row.baseline.verdict != row.during.verdict


def _target(name: str) -> str:
    return f"edge {name}" if "->" in name else f"service {name}"


def _mark(obs: Observation | None) -> str:
    if obs is None:
        return ""
    return obs.verdict + (_LEAK_MARK if obs.leaked else "")


def _cell(obs: Observation | None, vwidth: int) -> str:
    if obs is None:
        return "-"
    return f"{_mark(obs).ljust(vwidth)} {obs.elapsed_ms:.0f}ms"


def _judgement(row: EvidenceRow) -> str:
    problems = []
    c = row.contract
    if c is not None and not c.ok:
        if c.verdict in c.acceptable:
            problems.append("leaked error body")
        else:
            problems.append("wanted " + ("|".join(sorted(c.acceptable)) or "nothing"))
    if row.cascade is not None:
        problems.append("cascade")
    if problems:
        return "✗ " + "; ".join(problems)
    return "ok" if c is not None else "-"


def _event(e: Any) -> tuple[float, str, str, tuple[str, ...], str]:
    """Accept chaos.TimelineEvent-like objects or plain (t_s, action, fault, target) tuples."""
    if isinstance(e, tuple) and len(e) == 4:
        t_s, action, fault, target = e
        targets: tuple[str, ...] = (target,) if isinstance(target, str) else tuple(target)
        detail = ""
    elif hasattr(e, "t_s") and hasattr(e, "action") and hasattr(e, "fault"):
        t_s, action, fault, detail = e.t_s, e.action, e.fault, getattr(e, "detail", "")
        raw = getattr(e, "targets", None) or getattr(e, "target", ())
        targets = (raw,) if isinstance(raw, str) else tuple(raw)
    else:
        raise UsageError(f"timeline event must be (t_s, action, fault, target) or a TimelineEvent, got {e!r}")
    if isinstance(t_s, bool) or not isinstance(t_s, (int, float)):
        raise UsageError(f"timeline event time must be seconds as a number, got {t_s!r} in {e!r}")
    return float(t_s), str(action), str(fault), tuple(str(t) for t in targets if t), str(detail or "")


def _text(line: object) -> str:
    if isinstance(line, (bytes, bytearray)):
        return bytes(line).decode("utf-8", errors="replace")
    return str(line)


def _plain(text: str) -> str:
    """Strip ANSI escapes and control characters: the report is plain text."""
    return _ANSI.sub("", text)
