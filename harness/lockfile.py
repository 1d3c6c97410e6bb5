"""The lock (requirements.lock): which exact, hash-checked versions each of Cascade's environments installs.

    pyproject.toml ──(make lock: uv pip compile --universal --generate-hashes)──> requirements.lock
          │                                                                           │
          └── roots of a purpose (host venv, compose image, Chaos Toolkit venv) ──> closure over
              the lock's "# via" edges ──> pinned lines with their hashes, for pip or uv to install

One lock for every purpose, so the images and the bench's peer get the same versions as the host.
The lock is in pip's hash-checking requirements format (no index URLs in it); its "# via"
annotations are the dependency graph, which is what lets one file serve three environments.
`# inputs-sha256:` records which dependency declarations it was made from: a pyproject.toml
edited without `make lock` is refused before anything installs.

Standard library only (tomllib, hashlib): scripts/bootstrap runs this file with a bare python3
before any venv exists (`python3 harness/lockfile.py check`). Marker evaluation for another
interpreter (an image's Python) imports `packaging`, which every venv of Cascade's has.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

__all__ = [
    "Drift",
    "LOCK_NAME",
    "Lock",
    "PURPOSES",
    "Pin",
    "Purpose",
    "check_inputs",
    "compare",
    "drift",
    "environment_drift",
    "inputs_digest",
    "installed_versions",
    "load_lock",
    "normalize",
    "parse_lock",
    "render",
    "roots",
    "select",
    "target_environment",
]

LOCK_NAME = "requirements.lock"
PROJECT = "cascade-harness"
_DIGEST_PREFIX = "# inputs-sha256: "
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")
_HASH = re.compile(r"--hash=(sha256:[0-9a-f]{64})")
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")


def normalize(name: str) -> str:
    """A distribution name as pip compares them (PEP 503): 'Typing_Extensions' -> 'typing-extensions'."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    """One locked distribution: exact version, the environments it applies to, its hashes, who needs it."""

    name: str  # normalized
    version: str
    marker: str | None
    hashes: tuple[str, ...]
    parents: frozenset[str]  # normalized names from "# via"; the project itself is not listed

    def line(self, *, marker: bool = True) -> str:
        head = f"{self.name}=={self.version}" + (f" ; {self.marker}" if marker and self.marker else "")
        return " \\\n".join([head, *(f"    --hash={h}" for h in self.hashes)])


@dataclass(frozen=True)
class Lock:
    """A parsed requirements.lock."""

    pins: tuple[Pin, ...]
    inputs_sha256: str | None

    def named(self, name: str) -> tuple[Pin, ...]:
        return tuple(p for p in self.pins if p.name == normalize(name))


@dataclass(frozen=True)
class Purpose:
    """An environment installed from the lock: which of pyproject's declarations are its roots."""

    name: str
    base: bool  # the project's own [project] dependencies
    extras: tuple[str, ...]
    groups: tuple[str, ...]
    what: str


PURPOSES: Mapping[str, Purpose] = {
    "host": Purpose("host", True, ("mesh", "test"), ("dev",), "the .venv of scripts/bootstrap: harness, mesh, tests, tools"),
    "image": Purpose("image", False, ("mesh",), (), "the compose images: what the bundled services import"),
    "ctk": Purpose("ctk", False, (), ("ctk",), "bench/bench_ctk.py's Chaos Toolkit venv"),
}


# -- parsing ----------------------------------------------------------------------------------


def parse_lock(text: str) -> Lock:
    """Parse uv pip compile's output (pins, hash lines, "# via" annotations) plus the inputs digest."""
    pins: list[Pin] = []
    digest: str | None = None
    current: dict | None = None
    in_via = False

    def close() -> None:
        if current is not None:
            pins.append(Pin(current["name"], current["version"], current["marker"], tuple(current["hashes"]),
                            frozenset(current["parents"])))

    for raw in text.splitlines():
        if raw.startswith(_DIGEST_PREFIX):
            digest = raw[len(_DIGEST_PREFIX):].strip()
            continue
        if not raw.strip() or (raw.startswith("#") and not raw.startswith(" ")):
            continue
        if not raw.startswith(" "):
            close()
            m = _PIN.match(raw.strip())
            if m is None:
                raise ValueError(f"not a pinned requirement in the lock: {raw.strip()!r} "
                                 "(the lock is made by `make lock`; do not edit it by hand)")
            current = {"name": normalize(m["name"]), "version": m["version"],
                       "marker": (m["marker"] or "").strip() or None, "hashes": [], "parents": set()}
            in_via = False
            continue
        line = raw.strip()
        if current is None:
            continue
        if line.startswith("--hash="):
            current["hashes"].extend(_HASH.findall(line))
        elif line.startswith("# via"):
            rest = line[len("# via"):].strip()
            in_via = not rest
            if rest:
                _add_parent(current["parents"], rest)
        elif in_via and line.startswith("#   "):
            _add_parent(current["parents"], line[1:].strip())
    close()
    return Lock(tuple(pins), digest)


def _add_parent(parents: set[str], text: str) -> None:
    name = text.split()[0]
    if normalize(name) != PROJECT:  # "cascade-harness (pyproject.toml:dev)": a root, not an edge
        parents.add(normalize(name))


def load_lock(path: Path) -> Lock:
    return parse_lock(path.read_text(encoding="utf-8"))


# -- what pyproject asks for ------------------------------------------------------------------


def inputs_digest(pyproject: Mapping) -> str:
    """A digest of everything in pyproject.toml that decides the lock's content."""
    project = pyproject.get("project", {})
    inputs = {
        "requires-python": project.get("requires-python"),
        "dependencies": project.get("dependencies", []),
        "optional-dependencies": project.get("optional-dependencies", {}),
        "dependency-groups": pyproject.get("dependency-groups", {}),
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def check_inputs(pyproject: Mapping, lock: Lock) -> str | None:
    """None if the lock was made from pyproject's current declarations, else a one-line message."""
    if lock.inputs_sha256 is None:
        return f"{LOCK_NAME} has no '{_DIGEST_PREFIX.strip()}' line, so it was not made by `make lock`; run `make lock`"
    if lock.inputs_sha256 != inputs_digest(pyproject):
        return (f"{LOCK_NAME} does not match pyproject.toml (its dependencies, extras or groups changed "
                "since the lock was made): run `make lock` and commit requirements.lock with pyproject.toml")
    return None


def roots(pyproject: Mapping, purpose: Purpose) -> set[str]:
    """The normalized names a purpose asks for directly, with the project's self-references expanded."""
    project = pyproject.get("project", {})
    extras_table = project.get("optional-dependencies", {})
    groups_table = pyproject.get("dependency-groups", {})
    out: set[str] = set()
    seen: set[str] = set()

    def add(requirements: Iterable[str]) -> None:
        for req in requirements:
            m = _REQ_NAME.match(req)
            if m is None:
                continue
            if normalize(m[1]) == PROJECT:  # "cascade-harness[mesh]": the extras it names
                for extra in (e.strip() for e in (m[2] or "").split(",") if e.strip()):
                    if extra not in seen:
                        seen.add(extra)
                        add(extras_table.get(extra, []))
            else:
                out.add(normalize(m[1]))

    if purpose.base:
        add(project.get("dependencies", []))
    for extra in purpose.extras:
        if extra not in extras_table:
            raise ValueError(f"pyproject.toml has no optional-dependencies.{extra} (purpose {purpose.name})")
        seen.add(extra)
        add(extras_table[extra])
    for group in purpose.groups:
        if group not in groups_table:
            raise ValueError(f"pyproject.toml has no dependency-groups.{group} (purpose {purpose.name})")
        add(groups_table[group])
    return out


def select(lock: Lock, wanted: set[str]) -> tuple[Pin, ...]:
    """The pins reachable from `wanted` over the lock's "# via" edges, in the lock's order."""
    missing = wanted - {p.name for p in lock.pins}
    if missing:
        raise ValueError(f"{LOCK_NAME} has no pin for {', '.join(sorted(missing))}; run `make lock`")
    included = set(wanted)
    grew = True
    while grew:
        grew = False
        for pin in lock.pins:
            if pin.name not in included and pin.parents & included:
                included.add(pin.name)
                grew = True
    return tuple(p for p in lock.pins if p.name in included)


def _applies(pin: Pin, environment: Mapping[str, str] | None) -> bool:
    if pin.marker is None or environment is None:
        return True
    from packaging.markers import Marker  # lazy: bootstrap runs this file before any venv exists

    return Marker(pin.marker).evaluate(dict(environment))


def render(pins: Sequence[Pin], environment: Mapping[str, str] | None = None) -> str:
    """Requirement lines with hashes; with `environment`, only the pins whose marker holds there (markers dropped)."""
    chosen = [p for p in pins if _applies(p, environment)]
    return "".join(p.line(marker=environment is None) + "\n" for p in chosen)


def target_environment(python_version: str, machine: str) -> dict[str, str]:
    """Marker variables of a CPython `python_version` on Linux `machine` (an image's interpreter)."""
    from packaging.markers import default_environment

    env = dict(default_environment())
    major_minor = ".".join(python_version.split(".")[:2])
    env.update(python_full_version=python_version, python_version=major_minor,
               implementation_version=python_version, implementation_name="cpython",
               platform_python_implementation="CPython", sys_platform="linux", platform_system="Linux",
               os_name="posix", platform_machine=machine)
    return env


# -- drift: what is installed against what is locked ------------------------------------------


@dataclass(frozen=True)
class Drift:
    """How an environment differs from the lock."""

    locked: int  # pins that apply to this interpreter
    wrong: tuple[tuple[str, str, str], ...]  # (name, installed, locked)
    missing: tuple[tuple[str, str], ...]  # (name, locked)
    extra: tuple[tuple[str, str], ...]  # (name, installed): not in the lock

    @property
    def clean(self) -> bool:
        return not (self.wrong or self.missing or self.extra)

    def describe(self) -> str:
        if self.clean:
            return f"{self.locked} packages, every one at its locked version"
        parts = [f"{n} {have} installed, {want} locked" for n, have, want in self.wrong]
        parts += [f"{n} {want} missing" for n, want in self.missing]
        parts += [f"{n} {have} not in the lock" for n, have in self.extra]
        return "drift from the lock: " + "; ".join(parts) + " (scripts/bootstrap reinstalls from the lock)"


def drift(expected: Sequence[Pin], installed: Mapping[str, str], ignore: Iterable[str] = (PROJECT,)) -> Drift:
    """Compare installed {name: version} with the pins that apply here (already marker-filtered)."""
    skip = {normalize(n) for n in ignore}
    have = {normalize(k): v for k, v in installed.items() if normalize(k) not in skip}
    want: dict[str, str] = {p.name: p.version for p in expected if p.name not in skip}
    wrong = tuple((n, have[n], v) for n, v in sorted(want.items()) if n in have and have[n] != v)
    missing = tuple((n, v) for n, v in sorted(want.items()) if n not in have)
    extra = tuple((n, v) for n, v in sorted(have.items()) if n not in want)
    return Drift(len(want), wrong, missing, extra)


def compare(locked: Sequence[Pin], resolved: Sequence[Pin]) -> str:
    """A report of how `resolved` (e.g. the newest versions the ranges allow) differs from the lock."""
    have = {p.name: p.version for p in locked if p.name != PROJECT}
    new = {p.name: p.version for p in resolved if p.name != PROJECT}
    changed = [(n, have[n], new[n]) for n in sorted(have.keys() & new.keys()) if have[n] != new[n]]
    added = sorted(new.keys() - have.keys())
    gone = sorted(have.keys() - new.keys())
    count = len(changed) + len(added) + len(gone)
    lines = [f"{count} of {len(new)} packages differ from the lock" if count else
             f"all {len(new)} packages are at their locked versions"]
    lines += [f"  {n}: {old} (locked) -> {v}" for n, old, v in changed]
    lines += [f"  {n}: new, {new[n]}" for n in added]
    lines += [f"  {n}: no longer needed (locked {have[n]})" for n in gone]
    return "\n".join(lines) + "\n"


def installed_versions() -> dict[str, str]:
    """{normalized name: version} of the distributions importable by this interpreter."""
    from importlib.metadata import distributions

    out: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name:
            out.setdefault(normalize(name), dist.version)
    return out


def environment_drift(root: Path) -> tuple[Path, Drift] | None:
    """This interpreter's drift from the lock of the checkout at `root`; None where there is no lock."""
    lock_path = root / LOCK_NAME
    if not lock_path.is_file():
        return None
    pyproject = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))
    lock = load_lock(lock_path)
    pins = [p for p in select(lock, roots(pyproject, PURPOSES["host"])) if _applies(p, _here())]
    return lock_path, drift(pins, installed_versions())


def _here() -> dict[str, str]:
    from packaging.markers import default_environment

    return dict(default_environment())


# -- command line (scripts/bootstrap, docker/build-images.sh, scripts/lock) --------------------


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python harness/lockfile.py", description=__doc__.splitlines()[0])
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[1], help="the checkout")
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="exit 2 with one line if the lock was not made from pyproject.toml as it is")
    sub.add_parser("stamp", help="write the inputs digest into the lock (after uv pip compile)")
    s = sub.add_parser("select", help="print the hash-pinned requirements of one purpose")
    s.add_argument("purpose", choices=sorted(PURPOSES))
    s.add_argument("--python-version", help="evaluate markers for this CPython on Linux (an image's)")
    s.add_argument("--machine", default="x86_64", help="with --python-version: platform_machine")
    p = sub.add_parser("pin", help="print one package's hash-pinned line (bootstrap installs uv with it)")
    p.add_argument("name")
    c = sub.add_parser("compare", help="list how a resolved requirements file differs from the lock (test-latest)")
    c.add_argument("resolved", type=Path)
    args = ap.parse_args(argv)

    lock_path, pyproject_path = args.root / LOCK_NAME, args.root / "pyproject.toml"
    pyproject = tomllib.loads(pyproject_path.read_text(encoding="utf-8"))
    if not lock_path.is_file():
        print(f"no {LOCK_NAME} in {args.root}: run `make lock`", file=sys.stderr)
        return 2
    text = lock_path.read_text(encoding="utf-8")
    if args.cmd == "stamp":
        kept = [line for line in text.splitlines() if not line.startswith(_DIGEST_PREFIX)]
        at = next((i for i, line in enumerate(kept) if not line.startswith("#")), len(kept))
        kept.insert(at, _DIGEST_PREFIX + inputs_digest(pyproject))
        lock_path.write_text("\n".join(kept) + "\n", encoding="utf-8")
        return 0
    lock = parse_lock(text)
    if args.cmd == "pin":  # no inputs check: `make lock` needs the locked uv to mend a stale lock
        pins = lock.named(args.name)
        if not pins:
            print(f"{LOCK_NAME} has no pin for {args.name}; run `make lock`", file=sys.stderr)
            return 2
        sys.stdout.write(render(pins))
        return 0
    problem = check_inputs(pyproject, lock)
    if problem is not None:
        print(f"lock: {problem}", file=sys.stderr)
        return 2
    if args.cmd == "check":
        return 0
    if args.cmd == "compare":
        host = [p for p in select(lock, roots(pyproject, PURPOSES["host"])) if _applies(p, _here())]
        sys.stdout.write(compare(host, parse_lock(args.resolved.read_text(encoding="utf-8")).pins))
        return 0
    pins = select(lock, roots(pyproject, PURPOSES[args.purpose]))
    env = target_environment(args.python_version, args.machine) if args.python_version else None
    sys.stdout.write(render(pins, env))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
