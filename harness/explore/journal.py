"""Journals: a failing trial written down as JSON, replayed step by step, or turned into a pytest scenario.

    .cascade/journals/<topology>-<mode>-<seed>-<n>.json
    {"journal": 1, "topology": {"name", "digest", "path"}, "mode", "runtime", "seed", "found_after_s",
     "message", "steps": [{"action": "inject"|"heal", "fault": {"kind", "target", "params"}, "line"}],
     "checks": [{"after_step", "kind": "contracts"|"recovery", "faults", "verdicts", "broken"}],
     "classification": "reproducible"|"flaky"|"unconfirmed", "rerun": [checks of the confirming rerun],
     "removals": [{"removed": [step, ...], "still_failed", "seconds"}], "note"}   (the last four optional)

`replay` runs exactly the journal's steps on a mesh of the same topology and mode and compares
each check's verdicts with the journal's; `scenario_text` writes a test that runs the same
steps through the `mesh` fixture and fails while any contract breaks.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from ..errors import UsageError
from .trial import Check, Step, Trial, run_steps

if TYPE_CHECKING:
    from ..mesh import Mesh

__all__ = ["JOURNAL_DIR", "Journal", "Removal", "Replay", "replay", "run_steps", "scenario_text"]

JOURNAL_DIR = Path(".cascade") / "journals"
FORMAT = 1


@dataclass(frozen=True)
class Removal:
    """One removal tried while minimizing: which steps were taken out, and whether it still failed without them."""

    removed: tuple[str, ...]  # "inject <fault line>" / "heal <fault line>"
    still_failed: bool
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"removed": list(self.removed), "still_failed": self.still_failed, "seconds": round(self.seconds, 3)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Removal:
        return cls(tuple(data["removed"]), bool(data["still_failed"]), float(data.get("seconds", 0.0)))


@dataclass(frozen=True, kw_only=True)
class Journal:
    """A failing trial: where it ran (topology, mode, seed) and what happened, step by step (keywords only)."""

    # Keyword-only: ten fields, six of them strings, are too easy to pass in the wrong order.

    topology_name: str
    topology_digest: str
    topology_path: str
    mode: str
    runtime: str
    seed: int
    found_after_s: float
    message: str
    steps: tuple[Step, ...]
    checks: tuple[Check, ...]
    classification: str = ""  # reproducible | flaky | unconfirmed (minimize.py); "" before any rerun
    rerun: tuple[Check, ...] = ()  # the checks of the rerun that classified it (for a flaky one: the passing run)
    removals: tuple[Removal, ...] = ()  # every removal tried while minimizing, in order
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        out = {
            "journal": FORMAT,
            "topology": {"name": self.topology_name, "digest": self.topology_digest, "path": self.topology_path},
            "mode": self.mode, "runtime": self.runtime, "seed": self.seed,
            "found_after_s": round(self.found_after_s, 3), "message": self.message,
            "steps": [s.to_dict() for s in self.steps], "checks": [c.to_dict() for c in self.checks],
        }  # fmt: skip
        if self.classification:
            out.update(classification=self.classification, rerun=[c.to_dict() for c in self.rerun],
                       removals=[r.to_dict() for r in self.removals], note=self.note)
        return out

    def write(self, directory: Path = JOURNAL_DIR) -> Path:
        """Write under `directory` as <topology>-<mode>-<seed>-<n>.json (never over an earlier journal)."""
        directory.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^a-z0-9_-]+", "_", f"{self.topology_name}-{self.mode}-{self.seed}")
        n = 1
        while (directory / f"{stem}-{n}.json").exists():
            n += 1
        path = directory / f"{stem}-{n}.json"
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    @classmethod
    def load(cls, path: Path | str) -> Journal:
        """Read a journal; UsageError naming the file and what is wrong with it."""
        p = Path(path)
        try:
            data = json.loads(p.read_text())
            if data.get("journal") != FORMAT:
                raise UsageError(f"journal {p}: format {data.get('journal')!r}, this Cascade reads format {FORMAT}")
            topo = data["topology"]
            return cls(topology_name=topo["name"], topology_digest=topo["digest"], topology_path=topo["path"],
                       mode=data["mode"], runtime=data["runtime"], seed=int(data["seed"]),
                       found_after_s=float(data["found_after_s"]), message=data["message"],
                       steps=tuple(Step.from_dict(s) for s in data["steps"]),
                       checks=tuple(Check.from_dict(c) for c in data["checks"]),
                       classification=str(data.get("classification", "")),
                       rerun=tuple(Check.from_dict(c) for c in data.get("rerun", ())),
                       removals=tuple(Removal.from_dict(r) for r in data.get("removals", ())),
                       note=str(data.get("note", "")))
        except OSError as exc:
            raise UsageError(f"cannot read journal {str(p)!r}: {exc.strerror or exc}") from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise UsageError(f"{p} is not a Cascade journal ({type(exc).__name__}: {exc}); "
                             "pass a file `cascade explore` wrote under .cascade/journals/") from None


@dataclass(frozen=True)
class Replay:
    """The journal's checks beside the replay's, and every verdict that differs."""

    journal: Journal
    checks: tuple[Check, ...]
    differences: tuple[str, ...]
    seconds: float

    @property
    def same(self) -> bool:
        return not self.differences


def replay(mesh: Mesh, journal: Journal) -> Replay:
    """Run the journal's steps on `mesh` (same topology and mode) and compare every check's verdicts."""
    if mesh.topology.digest() != journal.topology_digest:
        raise UsageError(f"the journal was recorded on topology {journal.topology_name} {journal.topology_digest}, "
                         f"this mesh runs {mesh.topology.name} {mesh.topology.digest()}; pass --topology with the "
                         f"journal's file ({journal.topology_path})")
    started = time.monotonic()
    trial = run_steps(mesh, journal.steps)
    diffs = []
    for i in range(max(len(journal.checks), len(trial.checks))):
        want = journal.checks[i] if i < len(journal.checks) else None
        got = trial.checks[i] if i < len(trial.checks) else None
        if want is None or got is None:
            diffs.append(f"check {i + 1}: {'only in the replay' if want is None else 'missing from the replay'}")
            continue
        for name in sorted(set(want.verdicts) | set(got.verdicts)):
            a, b = want.verdicts.get(name, "-"), got.verdicts.get(name, "-")
            if a != b:
                diffs.append(f"check {i + 1} ({want.kind} after step {want.after_step + 1}): {name} was {a}, now {b}")
    return Replay(journal, tuple(trial.checks), tuple(diffs), time.monotonic() - started)


def scenario_text(journal: Journal) -> str:
    """A ready-to-commit pytest module that runs the journal's steps and fails while a contract breaks."""
    name = re.sub(r"[^a-z0-9_]+", "_", f"{journal.topology_name}_{journal.mode}_{journal.seed}".lower())
    lines = "\n".join(f"    ({s.action!r}, {s.to_dict()['line']!r})," for s in journal.steps)
    summary = (journal.message.splitlines() or ["a broken contract"])[0].replace('"', "'").replace("\\", "/")
    klass = f"\nClassified {journal.classification} when found." if journal.classification else ""
    return f'''"""Found by `cascade explore` on {journal.topology_name} (topology {journal.topology_digest}, mode {journal.mode}, seed {journal.seed}).

What broke then: {summary}{klass}
Run with --cascade-mode {journal.mode} to see it fail again; it passes once the mesh keeps its contracts.
"""

from harness import Step, parse_fault, run_steps

STEPS = [
{lines}
]


def test_explored_{name}_keeps_every_contract_and_recovers(mesh):
    """Each fault injected in this order: every journey keeps its contract, and recovers once all are healed."""
    broken = run_steps(mesh, [Step(action, parse_fault(line)) for action, line in STEPS]).broken
    assert not broken, "\\n".join(broken)
'''
