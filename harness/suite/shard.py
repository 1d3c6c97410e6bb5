"""Shards of a suite: `--cascade-shard K/N` runs the K-th of N disjoint parts (pure, but for file reading).

    test ids, sorted ──(durations known?)──> yes: longest first, each to the shard with the least
                                                  time so far (ties: the lower shard); unknown ids
                                                  count as the mean of the known ones
                                             no:  N contiguous runs of the sorted ids (a module's
                                                  tests stay together), sizes within one
             ──> each shard keeps the run's own order of its ids

Deterministic and independent of the collection order (pytest-randomly shuffles it with a
different seed in every CI job): the same ids and durations give the same shards on every
machine, in every job and every xdist worker, and the N shards together are exactly the suite,
each id once. Durations use
pytest-split's file format (a JSON object, test id -> seconds, default `.test_durations`), so a
file recorded by either tool serves both; `--cascade-store-durations` records this run's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

from ..errors import UsageError

__all__ = ["DURATIONS_FILE", "Shard", "load_durations", "parse_shard", "split", "store_durations"]

DURATIONS_FILE = ".test_durations"  # pytest-split's default name
_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")


@dataclass(frozen=True)
class Shard:
    index: int  # 1-based, as written: 1/2 and 2/2
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """`K/N` with 1 <= K <= N; anything else is refused with the form to use."""
    m = _SHARD.match(text or "")
    if not m:
        raise UsageError(f"--cascade-shard {text!r}: write K/N, e.g. 1/2 for the first of two shards")
    k, n = int(m.group(1)), int(m.group(2))
    if n < 1 or not 1 <= k <= n:
        raise UsageError(f"--cascade-shard {text!r}: K counts from 1 to N and N from 1; two shards are 1/2 and 2/2")
    return Shard(k, n)


def load_durations(path: Path) -> dict[str, float]:
    """A durations file (pytest-split's format: {test id: seconds}; its older list of pairs too); {} if absent."""
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text() or "{}")
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path} is not a durations file (JSON: {exc}); delete it, or record one with "
                         "--cascade-store-durations") from None
    if isinstance(data, list):  # pytest-split before 0.4: [[id, seconds], ...]
        data = {str(pair[0]): pair[1] for pair in data if isinstance(pair, list) and len(pair) == 2}
    if not isinstance(data, dict):
        raise UsageError(f"{path} is not a durations file: a JSON object of test id -> seconds was expected")
    out = {}
    for key, value in data.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            out[str(key)] = float(value)
    return out


def split(ids: Sequence[str], count: int, durations: Mapping[str, float] | None = None) -> list[list[str]]:
    """`ids` (each once) in `count` disjoint shards covering all of them; each in the order of `ids`."""
    if count < 1:
        raise ValueError("count must be at least 1")
    if len(set(ids)) != len(ids):
        raise ValueError("test ids must be unique")
    order = {tid: i for i, tid in enumerate(ids)}
    canonical = sorted(ids)
    known = {tid: durations[tid] for tid in ids if durations and tid in durations}
    if not known:  # by count: contiguous runs, so a module's tests mostly stay together
        size, extra = divmod(len(ids), count)
        out, start = [], 0
        for k in range(count):
            end = start + size + (1 if k < extra else 0)
            out.append(sorted(canonical[start:end], key=order.__getitem__))
            start = end
        return out
    mean = sum(known.values()) / len(known)
    cost = {tid: known.get(tid, mean) for tid in ids}
    totals = [0.0] * count
    shards: list[list[str]] = [[] for _ in range(count)]
    for tid in sorted(canonical, key=lambda t: -cost[t]):  # stable: equal costs in id order
        k = min(range(count), key=lambda i: (totals[i], i))
        shards[k].append(tid)
        totals[k] += cost[tid]
    return [sorted(s, key=order.__getitem__) for s in shards]


def store_durations(path: Path, measured: Mapping[str, float]) -> None:
    """Merge this run's durations into `path` (the ids measured replace their old values), sorted, atomically."""
    merged = {**load_durations(path), **{k: round(v, 4) for k, v in measured.items()}}
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(dict(sorted(merged.items())), indent=1) + "\n")
    tmp.replace(path)
