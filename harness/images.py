"""Images for your own services on a machine with no container registry.

Three steps, each usable alone (`cascade images base|wheels|build`), each cached:

    base    a Debian bookworm image made on this machine with mmdebstrap from the host's own apt
            mirror: python3 with a virtualenv at /opt/venv whose `pip` is first on PATH (so a
            Dockerfile written for python:3.x-slim runs `pip install` unchanged), plus whatever
            Debian packages your services need (postgresql-15, nginx-light, nodejs, ...).
    wheels  your requirements as binary wheels for the *image's* Python version and architecture
            (asked of the image itself, not of the host), downloaded on the host, hash-checked when
            the requirements carry hashes, for `pip install --no-index --find-links` in the image.
    build   `docker compose build` of a compose file whose Dockerfiles start `ARG BASE=<official
            image>` / `FROM ${BASE}`: with the official bases where they are here (or a registry
            is reachable: --bases official), with the local base otherwise.

docker/build-images.sh makes Cascade's own images with the same `base` and `wheels`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .errors import ProvisionError, UsageError

__all__ = [
    "BASE_PACKAGES",
    "BuildPlan",
    "Built",
    "DEFAULT_BASE",
    "base_key",
    "build",
    "default_tag",
    "dockerfile_base",
    "engine_machine",
    "host_mirror",
    "image_python",
    "make_base",
    "mmdebstrap_argv",
    "packages_of",
    "pip_download_argv",
    "plan_build",
    "wheels",
]

DEFAULT_BASE = "cascade/base:bookworm"
SUITE = "bookworm"
# What every local base has: a Python with a virtualenv (pip included) and CA certificates.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
# Bump when what a base holds changes in a way its package list does not show.
LAYOUT = "venv1"
LABEL = "cascade.base"
_PACKAGE = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_ARG_BASE = re.compile(r"^\s*ARG\s+BASE(?:=(\S+))?\s*$", re.IGNORECASE | re.MULTILINE)
_FROM_BASE = re.compile(r"^\s*FROM\s+\$\{?BASE\}?(\s|$)", re.IGNORECASE | re.MULTILINE)
PATH = "/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

Run = Callable[..., subprocess.CompletedProcess]


def _say(msg: str) -> None:
    print(f"cascade images: {msg}", file=sys.stderr)


def _run(argv: Sequence[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), text=True, capture_output=True, **kw)


# -- base ----------------------------------------------------------------------------------------

def packages_of(extra: Sequence[str]) -> tuple[str, ...]:
    """The base's packages: BASE_PACKAGES, then `extra` in order, each once; bad names refused."""
    out: list[str] = list(BASE_PACKAGES)
    for raw in extra:
        for name in (p.strip() for p in raw.split(",")):
            if not name:
                continue
            if not _PACKAGE.match(name):
                raise UsageError(f"{name!r} is not a Debian package name; give names such as "
                                 "postgresql-15,nginx-light,nodejs (lowercase, comma-separated)")
            if name not in out:
                out.append(name)
    return tuple(out)


def base_key(packages: Sequence[str]) -> str:
    """What the base's label records: remade when it differs."""
    return f"{SUITE}:{LAYOUT}:{','.join(packages)}"


def default_tag(packages: Sequence[str]) -> str:
    """cascade/base:bookworm for the bare base, cascade/base:bookworm-<12 hex> with extra packages."""
    extra = [p for p in packages if p not in BASE_PACKAGES]
    if not extra:
        return DEFAULT_BASE
    return f"{DEFAULT_BASE}-{hashlib.sha256(','.join(extra).encode()).hexdigest()[:12]}"


def host_mirror(root: Path = Path("/")) -> str:
    """The first non-security Debian mirror this host's apt uses (deb822 or one-line sources)."""
    found: list[str] = []
    for f in sorted((root / "etc/apt/sources.list.d").glob("*.sources")):
        found += [line.split()[1] for line in f.read_text().splitlines() if line.startswith("URIs:")
                  and len(line.split()) > 1]
    for f in [root / "etc/apt/sources.list", *sorted((root / "etc/apt/sources.list.d").glob("*.list"))]:
        if f.is_file():
            found += [line.split()[1] for line in f.read_text().splitlines()
                      if line.startswith("deb ") and len(line.split()) > 1 and not line.split()[1].startswith("[")]
    found = [u for u in found if "security" not in u]
    return found[0] if found else ""


def _label(image: str, run: Run) -> str | None:
    r = run(["docker", "image", "inspect", "--format", "{{ json .Config.Labels }}", image])
    if r.returncode != 0:
        return None
    return (json.loads(r.stdout or "null") or {}).get(LABEL, "")


def mmdebstrap_argv(packages: Sequence[str], mirror: str) -> list[str]:
    """The mmdebstrap command that writes the base's root filesystem as a tar to stdout."""
    security = mirror.rstrip("/").removesuffix("/debian") + "/debian-security"
    return [
        "mmdebstrap", "--quiet", "--variant=minbase", f"--include={','.join(packages)}",
        # no man pages, docs or locales; keep the copyright files
        "--dpkgopt=path-exclude=/usr/share/man/*", "--dpkgopt=path-exclude=/usr/share/doc/*",
        "--dpkgopt=path-include=/usr/share/doc/*/copyright", "--dpkgopt=path-exclude=/usr/share/locale/*",
        # the virtualenv a python:3.x-slim Dockerfile expects pip from
        '--customize-hook=chroot "$1" python3 -m venv /opt/venv',
        SUITE, "-", f"deb {mirror} {SUITE} main", f"deb {security} {SUITE}-security main",
    ]


def make_base(extra: Sequence[str] = (), tag: str = "", *, mirror: str = "", run: Run = _run) -> tuple[str, bool]:
    """Make (or reuse) the local base with `extra` Debian packages; returns (tag, made)."""
    packages = packages_of(extra)
    tag = tag or default_tag(packages)
    key = base_key(packages)
    if _label(tag, run) == key:
        return tag, False
    if not shutil.which("mmdebstrap") and os.geteuid() == 0:
        _say("installing mmdebstrap with apt-get")
        for argv in (["apt-get", "update", "-qq"],
                     ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mmdebstrap"]):
            run(argv, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not shutil.which("mmdebstrap"):
        raise ProvisionError("mmdebstrap is missing; install it (apt-get install mmdebstrap) to make a local base "
                             "image, or use the official bases where a registry is reachable (--bases official)")
    mirror = mirror or os.environ.get("DEBIAN_MIRROR", "") or host_mirror()
    if not mirror:
        raise ProvisionError("no Debian mirror found in /etc/apt/sources*; pass --mirror http://your-mirror/debian "
                             "(or set DEBIAN_MIRROR)")
    _say(f"making {tag} with mmdebstrap from {mirror} ({', '.join(packages)}); about a minute, once")
    strap = subprocess.Popen(mmdebstrap_argv(packages, mirror), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    imp = subprocess.run(
        ["docker", "import", "--change", f"LABEL {LABEL}={key}", "--change", f"ENV PATH={PATH}",
         "--change", 'CMD ["/bin/bash"]', "-", tag],
        stdin=strap.stdout, capture_output=True, text=True)
    strap.stdout.close()
    strap_err = strap.stderr.read().decode(errors="replace")
    if strap.wait() != 0:
        raise ProvisionError(f"mmdebstrap could not make {tag} from {mirror}: {strap_err.strip()[-800:]}; "
                             "check the package names and that the mirror serves bookworm")
    if imp.returncode != 0:
        raise ProvisionError(f"docker import of {tag} failed: {imp.stderr.strip()}")
    return tag, True


# -- wheels --------------------------------------------------------------------------------------

def image_python(image: str, run: Run = _run) -> str:
    """The image's own Python version (X.Y.Z), asked of the image."""
    r = run(["docker", "run", "--rm", "--network", "none", "--entrypoint", "python3", image, "-c",
             "import platform; print(platform.python_version())"])
    if r.returncode != 0 or not re.fullmatch(r"\d+\.\d+\.\d+\S*", r.stdout.strip()):
        raise UsageError(f"image {image!r} has no python3 to ask its version of ({r.stderr.strip()[-300:]}); "
                         f"give a Python base: {DEFAULT_BASE} (cascade images base) or python:3.11-slim")
    return r.stdout.strip()


def engine_machine(run: Run = _run) -> str:
    r = run(["docker", "info", "--format", "{{.Architecture}}"])
    arch = r.stdout.strip()
    machine = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "aarch64", "arm64": "aarch64"}.get(arch)
    if r.returncode != 0 or not machine:
        raise ProvisionError(f"no wheel platform known for the Docker engine's architecture {arch!r} "
                             f"({r.stderr.strip()}); is the engine up? (docker/engine.sh)")
    return machine


def pip_download_argv(python: str, requirements: Path, dest: Path, *, version: str, machine: str,
                      hashed: bool, find_links: Sequence[str] = (), no_index: bool = False) -> list[str]:
    """`pip download` of binary wheels for another interpreter: `version` on manylinux `machine`."""
    major_minor = "".join(version.split(".")[:2])
    argv = [python, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--dest", str(dest),
            "--only-binary=:all:", "--implementation", "cp", "--python-version", version,
            "--abi", f"cp{major_minor}", "--abi", "abi3", "--abi", "none",
            "--platform", f"manylinux_2_28_{machine}", "--platform", f"manylinux_2_17_{machine}",
            "--platform", f"manylinux2014_{machine}", "--platform", "any", "-r", str(requirements)]
    if hashed:  # a lock: every pin is there, so no resolving; every file hash-checked
        argv[4:4] = ["--require-hashes", "--no-deps"]
    for link in find_links:
        argv += ["--find-links", str(link)]
    if no_index:
        argv.append("--no-index")
    return argv


def wheels(requirements: Path, image: str, dest: Path, *, find_links: Sequence[str] = (), no_index: bool = False,
           python: str = sys.executable, run: Run = _run) -> tuple[Path, bool]:
    """Download `requirements` as wheels for `image`'s Python into `dest`; returns (dest, downloaded).

    `dest` holds the wheels and a copy of the requirements as requirements.txt; it is kept while
    the requirements, the image's Python version and the engine's architecture stay the same.
    """
    if not requirements.is_file():
        raise UsageError(f"no requirements file at {requirements}; pass -r path/to/requirements.txt")
    text = requirements.read_text()
    version = image_python(image, run)
    machine = engine_machine(run)
    key = hashlib.sha256(f"{text}\n{version}\n{machine}\n{sorted(find_links)}".encode()).hexdigest()[:16]
    stamp = dest / ".cascade-wheels"
    if stamp.is_file() and stamp.read_text() == key:
        return dest, False
    if dest.exists():
        for old in [*dest.glob("*.whl"), stamp]:
            old.unlink(missing_ok=True)
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "requirements.txt").write_text(text)
    argv = pip_download_argv(python, dest / "requirements.txt", dest, version=version, machine=machine,
                             hashed="--hash=" in text, find_links=find_links, no_index=no_index)
    r = run(argv)
    if r.returncode != 0:
        raise ProvisionError(f"pip could not download wheels of {requirements} for Python {version} on {machine} "
                             f"(the Python of {image}): {r.stderr.strip()[-800:]}; a package with no wheel for "
                             "that version needs a newer pin, or a base with the Python it has wheels for")
    stamp.write_text(key)
    return dest, True


# -- build ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Built:
    """One service of a compose file that has a `build:` section."""

    service: str
    dockerfile: Path
    default_base: str  # the ARG BASE default: the official image


@dataclass(frozen=True)
class BuildPlan:
    compose_file: Path
    services: tuple[Built, ...]

    @property
    def official(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(b.default_base for b in self.services))


def dockerfile_base(dockerfile: Path) -> str:
    """The default of `ARG BASE=...` of a Dockerfile whose first stage is `FROM ${BASE}`."""
    text = dockerfile.read_text()
    arg = _ARG_BASE.search(text)
    if not arg or not arg.group(1) or not _FROM_BASE.search(text):
        raise UsageError(
            f"{dockerfile} does not take its base as a build argument; start it with "
            "`ARG BASE=<the official image, e.g. node:20-bookworm-slim>` and `FROM ${BASE}` so a local "
            "base can stand in for it where no registry is reachable")
    return arg.group(1)


def plan_build(compose_file: Path) -> BuildPlan:
    """Every service of `compose_file` with a `build:` section, and its Dockerfile's default base."""
    import yaml

    if not compose_file.is_file():
        raise UsageError(f"no compose file at {compose_file}")
    try:
        doc = yaml.safe_load(compose_file.read_text()) or {}
    except yaml.YAMLError as e:
        raise UsageError(f"{compose_file} is not valid YAML: {e}") from None
    out: list[Built] = []
    for name, svc in sorted((doc.get("services") or {}).items()):
        build_ = (svc or {}).get("build")
        if build_ is None:
            continue
        context = build_ if isinstance(build_, str) else build_.get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build_, str) else build_.get("dockerfile", "Dockerfile")
        path = (compose_file.parent / context / dockerfile).resolve()
        if not path.is_file():
            raise UsageError(f"service {name!r} of {compose_file}: no Dockerfile at {path}")
        out.append(Built(name, path, dockerfile_base(path)))
    if not out:
        raise UsageError(f"{compose_file} has no service with a `build:` section; nothing to build")
    return BuildPlan(compose_file, tuple(out))


def have_image(image: str, run: Run = _run) -> bool:
    return run(["docker", "image", "inspect", image]).returncode == 0


def build(compose_file: Path, *, bases: str = "auto", packages: Sequence[str] = (), tag: str = "",
          mirror: str = "", run: Run = _run) -> str:
    """Build the compose file's images; returns the base used ('official' or the local base's tag)."""
    if bases not in ("auto", "official", "local"):
        raise UsageError(f"--bases {bases!r}: use auto, official or local")
    plan = plan_build(compose_file)
    if bases == "auto":
        bases = "official" if all(have_image(b, run) for b in plan.official) else "local"
    from .runtime.compose_plan import compose_command  # the compose runtime's choice: v2, else v1, CASCADE_COMPOSE

    argv = [*compose_command(), "-f", str(compose_file), "build", "--quiet"]
    used = "official"
    if bases == "local":
        used, made = make_base(packages, tag, mirror=mirror, run=run)
        _say(f"{'made' if made else 'reusing'} {used}")
        argv += ["--build-arg", f"BASE={used}"]
    _say(f"building {', '.join(b.service for b in plan.services)} of {compose_file} on "
         + ("their official bases: " + ", ".join(plan.official) if used == "official" else used))
    r = subprocess.run(argv, text=True, capture_output=True)
    if r.returncode != 0:
        raise ProvisionError(f"`{' '.join(argv)}` failed: {(r.stderr or r.stdout).strip()[-1500:]}")
    return used
