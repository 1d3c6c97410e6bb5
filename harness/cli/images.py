"""`cascade images base|wheels|build`: images for your own services where no registry is reachable."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["register", "run"]

EXAMPLES = """examples:
  cascade images base --packages postgresql-15,nginx-light,nodejs
        a local Debian bookworm base (python3 + pip in /opt/venv, plus those packages); prints its tag
  cascade images wheels -r requirements.txt --image cascade/base:bookworm --dest wheels/
        your requirements as wheels for that image's own Python, for pip install --no-index
  cascade images build --compose compose.yaml --packages postgresql-15,nginx-light,nodejs
        docker compose build, on the official bases if they are here, else on the local base

Your Dockerfiles take their base as a build argument:  ARG BASE=python:3.11-slim / FROM ${BASE}
See docs/images.md.
"""


def run(args: argparse.Namespace) -> int:
    from .. import images

    if args.step == "base":
        tag, made = images.make_base(args.packages, args.tag, mirror=args.mirror)
        print(tag)
        images._say(f"{'made' if made else 'already made'}: {tag}")
    elif args.step == "wheels":
        dest, downloaded = images.wheels(Path(args.requirements), args.image, Path(args.dest),
                                         find_links=args.find_links, no_index=args.no_index)
        n = len(list(dest.glob("*.whl")))
        print(dest)
        images._say(f"{'downloaded' if downloaded else 'kept'} {n} wheels for {args.image}'s Python in {dest}")
    else:
        used = images.build(Path(args.compose), bases=args.bases, packages=args.packages, tag=args.tag,
                            mirror=args.mirror)
        print(used)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("images", help="build images for your own services offline (a local base, wheels)",
                       description="Images for your own services on a machine with no container registry.",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    steps = p.add_subparsers(dest="step", metavar="STEP")
    steps.required = True

    def base_options(q: argparse.ArgumentParser) -> None:
        q.add_argument("--packages", action="append", default=[],
                       help="Debian packages the base also has, comma-separated (repeatable)")
        q.add_argument("--tag", default="", help="the base's tag (default cascade/base:bookworm[-<hash of packages>])")
        q.add_argument("--mirror", default="", help="Debian mirror (default: the first one this host's apt uses)")

    b = steps.add_parser("base", help="make (or reuse) a local Debian base image; prints its tag")
    base_options(b)
    w = steps.add_parser("wheels", help="download wheels for an image's own Python version")
    w.add_argument("-r", "--requirements", required=True, help="requirements file (hashes are checked if present)")
    w.add_argument("--image", required=True, help="the image the wheels are for (its python3 is asked its version)")
    w.add_argument("--dest", required=True, help="folder for the wheels (and a copy of the requirements)")
    w.add_argument("--find-links", action="append", default=[], help="also look for wheels here (repeatable)")
    w.add_argument("--no-index", action="store_true", help="only --find-links, no package index")
    c = steps.add_parser("build", help="docker compose build, official bases if here, else the local base")
    c.add_argument("--compose", required=True, help="compose file whose `build:` services are built")
    c.add_argument("--bases", default="auto", choices=["auto", "official", "local"],
                   help="auto (default): official if every Dockerfile's ARG BASE image is here, else local")
    base_options(c)
    p.set_defaults(func=run)
