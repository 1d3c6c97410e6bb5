"""Finds or builds the real toxiproxy-server (pinned 2.12.0) and reports which real components this machine has."""

from __future__ import annotations

import fcntl
import os
import re
import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from ..errors import ProvisionError, ToxiproxyNotFound
from ..paths import cache_dir

__all__ = [
    "TOXIPROXY_VERSION",
    "ToxiproxyBinary",
    "cache_dir",
    "describe_toxiproxy",
    "doctor_report",
    "find_toxiproxy",
    "lock_rows",
    "not_found_message",
    "parse_version",
    "run_tool",
    "server_version",
    "toxiproxy_cache",
]

TOXIPROXY_VERSION = "2.12.0"
_MODULE = "github.com/Shopify/toxiproxy/v2"
# Without this the binary reports version "git" (version.go's default).
_LDFLAGS = f"-X {_MODULE}.Version={TOXIPROXY_VERSION}"
_BUILD_TIMEOUT_S = 900.0
_PROBE_TIMEOUT_S = 10.0

Which = Callable[[str], str | None]
Log = Callable[[str], None]


@dataclass(frozen=True)
class ToxiproxyBinary:
    """A runnable toxiproxy-server (and toxiproxy-cli when there is one), its version and where it came from."""

    server: Path
    cli: Path | None
    version: str
    source: str  # "env", "path", "cache" or "built"


# -- pure parts ---------------------------------------------------------------------------------


def toxiproxy_cache(env: Mapping[str, str] | None = None) -> Path:
    """Where a built toxiproxy-server and toxiproxy-cli of the pinned version live."""
    return cache_dir(env) / "toxiproxy" / TOXIPROXY_VERSION


def parse_version(output: str) -> str | None:
    """The version in `toxiproxy-server --version` output ('toxiproxy-server version 2.12.0'), or None."""
    match = re.search(r"\bversion\s+v?(\S+)", output)
    return match.group(1) if match else None


def not_found_message(cache: Path, *, go_found: bool, build: bool) -> str:
    """Why no toxiproxy-server was found, naming every route and how to take it."""
    if not build:
        why = "building was not allowed (build=False)"
    elif not go_found:
        why = "`go` is not on PATH, so it could not be built"
    else:
        why = "it was not built"
    return (
        f"no toxiproxy-server {TOXIPROXY_VERSION} found, and {why}. Cascade looks, in order, at:\n"
        "  1. $TOXIPROXY_SERVER: set it to the path of a toxiproxy-server binary;\n"
        "  2. `toxiproxy-server` on PATH: install it (e.g. a release from "
        "https://github.com/Shopify/toxiproxy/releases) into a PATH directory;\n"
        f"  3. a cached build in {cache}/toxiproxy-server: put a binary there, or let route 4 fill it;\n"
        f"  4. a build with `go install` of {_MODULE}/cmd/server@v{TOXIPROXY_VERSION}: install Go "
        "(https://go.dev/dl/) and run again; it takes about 30 s, once."
    )


def _which_in(env: Mapping[str, str]) -> Which:
    return lambda name: shutil.which(name, path=env.get("PATH", os.defpath))


def _executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# -- subprocess parts ---------------------------------------------------------------------------


def server_version(server: Path, env: Mapping[str, str] | None = None) -> str:
    """Run `<server> --version` and return the version it prints; raise ProvisionError if it does not run."""
    try:
        done = subprocess.run(
            [str(server), "--version"], capture_output=True, text=True,
            timeout=_PROBE_TIMEOUT_S, env=None if env is None else dict(env),
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise ProvisionError(
            f"{server} does not run ({exc}); replace it with a working toxiproxy-server "
            f"{TOXIPROXY_VERSION} binary, or delete it so Cascade can find or build another"
        ) from exc
    version = parse_version(done.stdout) if done.returncode == 0 else None
    if version is None:
        output = (done.stdout + done.stderr).strip()[:300]
        raise ProvisionError(
            f"{server} --version exited {done.returncode} without printing a version ({output!r}); "
            f"is it really toxiproxy-server? Replace it with a {TOXIPROXY_VERSION} binary"
        )
    return version


def find_toxiproxy(
    *,
    build: bool = True,
    log: Log | None = None,
    env: Mapping[str, str] | None = None,
    which: Which | None = None,
) -> ToxiproxyBinary:
    """Find toxiproxy-server by $TOXIPROXY_SERVER, PATH, the cache, or a `go install` build, in that order."""
    env = dict(os.environ) if env is None else env
    which = which or _which_in(env)

    named = env.get("TOXIPROXY_SERVER")
    if named:
        server = Path(named).expanduser()
        if not _executable(server):
            raise ToxiproxyNotFound(
                f"TOXIPROXY_SERVER={named} is not an executable file; point it at a toxiproxy-server "
                "binary, or unset it to let Cascade find or build one"
            )
        cli = server.with_name("toxiproxy-cli")
        return _binary(server, cli if _executable(cli) else _path_or_none(which("toxiproxy-cli")), env, "env")

    on_path = which("toxiproxy-server")
    if on_path:
        return _binary(Path(on_path), _path_or_none(which("toxiproxy-cli")), env, "path")

    dest = toxiproxy_cache(env)
    if _executable(dest / "toxiproxy-server"):
        return _cached(dest, env, "cache")

    go = which("go")
    if build and go:
        return _build(Path(go), dest, env, log)
    raise ToxiproxyNotFound(not_found_message(dest, go_found=go is not None, build=build))


def _path_or_none(found: str | None) -> Path | None:
    return Path(found) if found else None


def _binary(server: Path, cli: Path | None, env: Mapping[str, str], source: str) -> ToxiproxyBinary:
    return ToxiproxyBinary(server=server, cli=cli, version=server_version(server, env), source=source)


def _cached(dest: Path, env: Mapping[str, str], source: str) -> ToxiproxyBinary:
    cli = dest / "toxiproxy-cli"
    return _binary(dest / "toxiproxy-server", cli if _executable(cli) else None, env, source)


def _build(go: Path, dest: Path, env: Mapping[str, str], log: Log | None) -> ToxiproxyBinary:
    dest.mkdir(parents=True, exist_ok=True)
    with open(dest.parent / f".{TOXIPROXY_VERSION}.lock", "a") as lock:
        # A second process building at the same time waits here, then finds the cache filled.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _executable(dest / "toxiproxy-server"):
            return _cached(dest, env, "cache")
        if log is not None:
            log(f"building toxiproxy-server {TOXIPROXY_VERSION} with go install (about 30 s, once)")
        # GOBIN inside the cache dir keeps the final renames on one filesystem, hence atomic.
        gobin = Path(tempfile.mkdtemp(prefix=".build-", dir=dest.parent))
        try:
            _go_install(go, "server", gobin, env)
            try:
                # The CLI is optional (nothing in Cascade needs it): a failed CLI build keeps the server.
                _go_install(go, "cli", gobin, env)
                os.replace(gobin / "cli", dest / "toxiproxy-cli")
            except ProvisionError as exc:
                if log is not None:
                    log(f"toxiproxy-cli was not built, continuing without it: {exc}")
            # The server goes last: its presence is what marks the cache complete.
            os.replace(gobin / "server", dest / "toxiproxy-server")
        finally:
            shutil.rmtree(gobin, ignore_errors=True)
    return _cached(dest, env, "built")


def run_tool(argv: Sequence[str], *, env: Mapping[str, str], timeout_s: float, remedy: str) -> str:
    """Run a provisioning tool (go, npm, java...); its stdout, or ProvisionError with its last lines and `remedy`."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, env=dict(env),
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise ProvisionError(f"`{shlex.join(argv)}` took over {timeout_s:.0f} s; {remedy}") from exc
    except OSError as exc:
        raise ProvisionError(f"could not run `{shlex.join(argv)}` ({exc}); {remedy}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-10:])
        raise ProvisionError(f"`{shlex.join(argv)}` failed with exit {done.returncode}:\n{tail}\n{remedy}")
    return done.stdout


def _go_install(go: Path, command: str, gobin: Path, env: Mapping[str, str]) -> None:
    argv = [str(go), "install", "-ldflags", _LDFLAGS, f"{_MODULE}/cmd/{command}@v{TOXIPROXY_VERSION}"]
    remedy = (
        f"check that the Go module proxy is reachable (GOPROXY={env.get('GOPROXY') or 'default'}), "
        "or set TOXIPROXY_SERVER to a prebuilt toxiproxy-server"
    )
    run_tool(argv, env={**env, "GOBIN": str(gobin)}, timeout_s=_BUILD_TIMEOUT_S, remedy=remedy)
    if not _executable(gobin / command):
        raise ProvisionError(f"`{shlex.join(argv)}` succeeded but left no {command!r} binary in {gobin}; {remedy}")


def describe_toxiproxy(*, env: Mapping[str, str] | None = None, which: Which | None = None) -> str:
    """One line for a session header: the version, path and source of the toxiproxy-server in use; never raises."""
    try:
        found = find_toxiproxy(build=False, env=env, which=which)
    except ToxiproxyNotFound:
        return f"not built yet (first use builds {TOXIPROXY_VERSION})"
    except Exception as exc:  # noqa: BLE001 -- a report header must not fail the session
        return f"unusable ({str(exc).splitlines()[0]})"
    return f"{found.version} ({found.server}, {found.source})"


# -- doctor -------------------------------------------------------------------------------------


def _probe(argv: Sequence[str], env: Mapping[str, str], timeout_s: float) -> tuple[bool, str]:
    """Run a version command; (exited 0, first output line). Never raises."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout_s, env=dict(env))
    except subprocess.TimeoutExpired:
        return False, f"`{shlex.join(argv)}` gave no answer in {timeout_s:g} s"
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"`{shlex.join(argv)}` does not run: {exc}"
    lines = [line.strip() for line in (done.stdout + "\n" + done.stderr).splitlines() if line.strip()]
    first = lines[0] if lines else "(no output)"
    return done.returncode == 0, first if done.returncode == 0 else f"exit {done.returncode}: {first}"


def doctor_report(
    *, env: Mapping[str, str] | None = None, which: Which | None = None, timeout_s: float = _PROBE_TIMEOUT_S
) -> list[tuple[str, str, bool]]:
    """Rows of (what, finding, ok) for every real component Cascade uses; never raises."""
    env = dict(os.environ) if env is None else env
    which = which or _which_in(env)
    rows: list[tuple[str, str, bool]] = []
    try:
        go = which("go")
    except Exception:  # noqa: BLE001 -- doctor reports every failure as a row, never raises
        go = None

    binary: ToxiproxyBinary | None = None
    try:
        binary = find_toxiproxy(build=False, env=env, which=which)
        note = "" if binary.version == TOXIPROXY_VERSION else f"; Cascade is pinned to {TOXIPROXY_VERSION}"
        rows.append(("toxiproxy-server", f"{binary.server} version {binary.version} ({binary.source}{note})", True))
    except ToxiproxyNotFound:
        if go:
            rows.append(("toxiproxy-server", "not built yet; first use builds it with go install (about 30 s)", True))
        else:
            rows.append(("toxiproxy-server", "not found; set TOXIPROXY_SERVER, put it on PATH, or install Go", False))
    except Exception as exc:  # noqa: BLE001 -- doctor reports every failure as a row, never raises
        rows.append(("toxiproxy-server", str(exc).splitlines()[0], False))

    if binary is not None and binary.cli is not None:
        rows.append(("toxiproxy-cli", str(binary.cli), True))
    else:
        rows.append(("toxiproxy-cli", "not found (optional: only for poking at proxies by hand)", True))

    def probed(what: str, name: str, args: Sequence[str], missing: str, missing_ok: bool = False,
               also: str | None = None) -> None:
        try:
            path = which(name) or (which(also) if also else None)
            if not path:
                rows.append((what, f"not found ({missing})", missing_ok))
                return
            ok, line = _probe([path, *args], env, timeout_s)
            rows.append((what, f"{path}: {line}", ok))
        except Exception as exc:  # noqa: BLE001 -- doctor reports every failure as a row, never raises
            rows.append((what, f"could not check: {exc}", False))

    rows.append(_envoy_row(env, timeout_s))
    probed("redis-server", "redis-server", ["--version"], "the local runtime needs it: apt-get install redis-server")
    probed("etcd", "etcd", ["--version"], "scripts/bootstrap installs it as root; Debian: apt-get install etcd-server")
    # /usr/sbin is not on a Debian user's PATH: nginx is looked for there too
    probed("nginx", "nginx", ["-v"], "scripts/bootstrap installs it as root; Debian: apt-get install nginx-light",
           also="/usr/sbin/nginx")
    probed("go", "go", ["version"], "needed only to build toxiproxy-server", missing_ok=binary is not None)
    probed("docker client", "docker", ["--version"], "needed only for the compose runtime")
    probed("docker compose v2", "docker", ["compose", "version"], "needed only for the compose runtime")
    probed("docker-compose v1", "docker-compose", ["version", "--short"], "compose runtime alternative to v2")
    return rows


def _envoy_row(env: Mapping[str, str], timeout_s: float) -> tuple[str, str, bool]:
    """Doctor's row on the HTTP engine: which Envoy, and its version (never raises)."""
    from ..clients.envoy import engine_disabled, find_envoy

    if engine_disabled(env):
        return ("envoy (HTTP faults)", "off (CASCADE_HTTP_ENGINE=off): HTTP faults are refused", True)
    try:
        path = find_envoy(env)
        ok, line = _probe([str(path), "--version"], env, timeout_s)
        return ("envoy (HTTP faults)", f"{path}: {line.split('version:')[-1].strip()}", ok)
    except Exception as exc:  # noqa: BLE001 -- doctor reports every failure as a row, never raises
        return ("envoy (HTTP faults)", str(exc).splitlines()[0], False)


def lock_rows(root: Path | None = None) -> list[tuple[str, str, bool]]:
    """Doctor's rows on this interpreter's packages: the locked versions installed, and any drift from the lock."""
    from ..lockfile import environment_drift, installed_versions, normalize

    root = Path(__file__).resolve().parents[2] if root is None else root  # the checkout: harness/runtime/ is two down
    try:
        found = environment_drift(root)
    except Exception as exc:  # noqa: BLE001 -- doctor reports every failure as a row, never raises
        return [("python packages", f"could not compare with the lock: {exc}", False)]
    if found is None:
        return [("python packages", "no requirements.lock beside this install: versions come from pyproject's ranges", True)]
    lock_path, drift = found
    have = installed_versions()
    direct = ("pytest", "hypothesis", "tenacity", "allure-pytest", "docker", "redis", "httpx", "uvicorn", "starlette")
    versions = ", ".join(f"{n} {have[normalize(n)]}" for n in direct if normalize(n) in have)
    return [("python packages", f"{lock_path}: {drift.describe()}", drift.clean),
            ("locked versions", versions, drift.clean)]
