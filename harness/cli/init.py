"""`cascade init --compose compose.yaml [--out topology.toml]`: write a topology draft from a compose file."""

from __future__ import annotations

import argparse
import os
import tomllib
from pathlib import Path

__all__ = ["register", "run"]

EXAMPLES = """examples:
  cascade init --compose compose.yaml                       writes topology.toml beside it
  cascade init --compose deploy/compose.yaml --out topology.toml --name shop
"""


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..init import draft_from_compose, load_compose
    from ..topology import Topology

    compose = Path(args.compose)
    out = Path(args.out) if args.out else compose.parent / "topology.toml"
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; pass --force to replace it, or --out another path")
    data = load_compose(compose)
    env_files = {}
    for spec in (data.get("services") or {}).values():
        files = (spec or {}).get("env_file") or [] if isinstance(spec, dict) else []
        for entry in [files] if isinstance(files, (str, dict)) else files:
            path = entry.get("path") if isinstance(entry, dict) else entry
            env_files[path] = _read_env_file(compose.parent / str(path))
    relative = os.path.relpath(compose.resolve(), out.resolve().parent)
    draft = draft_from_compose(data, compose_file=relative, name=args.name or compose.resolve().parent.name.lower(),
                               env_files={k: v for k, v in env_files.items() if v is not None})
    Topology.from_dict(tomllib.loads(draft.toml), root=out.resolve().parent)  # the draft loads as it is
    out.write_text(draft.toml)
    print(f"wrote {out}: {len(draft.services)} services, {len(draft.edges)} edges "
          f"({', '.join(draft.edges) or 'none found'})")
    if draft.not_inferred:
        print("\ncould not infer:")
        print("\n".join(f"  - {line}" for line in draft.not_inferred))
    print("\nleft to declare:")
    print("\n".join(f"  - {line}" for line in draft.to_declare))
    return 0


def _read_env_file(path: Path) -> dict[str, str] | None:
    """KEY=VALUE lines of an env_file (comments, blanks and `export ` skipped); None if it cannot be read."""
    try:
        text = path.read_text()
    except OSError:
        return None
    out = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def register(sub: argparse._SubParsersAction) -> None:
    i = sub.add_parser("init", help="write a topology draft from a compose file (services, health, edges)",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("--compose", required=True, metavar="FILE", help="the compose file to read")
    i.add_argument("--out", metavar="FILE", help="where to write the draft (default: topology.toml beside it)")
    i.add_argument("--name", help="the mesh's name (default: the compose file's folder)")
    i.add_argument("--force", action="store_true", help="replace --out if it exists")
    i.set_defaults(func=run)
