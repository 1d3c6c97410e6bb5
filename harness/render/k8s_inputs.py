"""What `cascade render k8s` takes from outside the topology: the compose file's services and the config files' content.

    [mesh] compose_file  ──> per topology service (its compose_service): image, environment, command,
                             entrypoint, bind mounts; ${VAR:-default} taken at its default (a render
                             never reads your environment, so the same files give the same manifests)
    [config.X] kind=file ──> the file's bytes now, for a ConfigMap

`compose_services` is pure (a parsed compose mapping in); `read_inputs` is the one function here
that reads files, and names the file it could not read.
"""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from ..errors import UsageError
from ..topology import ConfigSourceSpec, Topology

__all__ = ["ComposeService", "K8sInputs", "MAX_CONFIGMAP_BYTES", "compose_services", "interpolate", "mounted_at",
           "read_inputs"]

MAX_CONFIGMAP_BYTES = 1_048_576  # the API server refuses a ConfigMap over 1 MiB
_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


@dataclass(frozen=True)
class ComposeService:
    """The parts of one compose service a Deployment can take over."""

    image: str = ""  # "" when the file gives none, or only through a variable without a default
    env: Mapping[str, str] = field(default_factory=dict)
    command: tuple[str, ...] | None = None  # compose `command`: the container's args
    entrypoint: tuple[str, ...] | None = None  # compose `entrypoint`: the container's command
    binds: tuple[tuple[str, str], ...] = ()  # (host folder, normalised; path inside the container)
    note: str = ""  # why there is no image


@dataclass(frozen=True)
class K8sInputs:
    """Everything a render reads besides the topology; empty: no compose file, no config file."""

    compose_file: str = ""
    services: Mapping[str, ComposeService] = field(default_factory=dict)  # by topology service name
    files: Mapping[str, bytes] = field(default_factory=dict)  # [config.X] kind = "file" -> its content now


def interpolate(value: str) -> tuple[str, bool]:
    """A compose value with its variables at their defaults; (text, True) if nothing was left unresolved."""
    whole = True

    def one(m: re.Match[str]) -> str:
        nonlocal whole
        if m.group(0) == "$$":
            return "$"
        op, default = m.group(2), m.group(3)
        if op in (":-", "-"):
            return default or ""
        if op in (":+", "+"):
            return ""  # set-only alternatives: the variable is taken as unset
        whole = False  # ${VAR}, $VAR, ${VAR:?error}: the value lives in an environment a render never reads
        return m.group(0)

    return _VAR.sub(one, value), whole


def _words(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(shlex.split(interpolate(value)[0]))
    return tuple(interpolate(str(v))[0] for v in value)


def _environment(value: Any) -> dict[str, str]:
    """compose `environment`, mapping or list form; a variable without a value (taken from the host) is left out."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list):
        pairs = [tuple(str(x).split("=", 1)) if "=" in str(x) else (str(x), None) for x in value]  # type: ignore[misc]
    out = {}
    for key, v in pairs:
        if v is None:
            continue
        text = ("true" if v else "false") if isinstance(v, bool) else str(v)
        out[str(key)] = interpolate(text)[0]
    return out


def _binds(volumes: Any, compose_dir: Path) -> tuple[tuple[str, str], ...]:
    out = []
    for v in volumes or []:
        if isinstance(v, str):
            parts = v.split(":")
            source, target = (parts[0], parts[1]) if len(parts) >= 2 else ("", "")
            if not source.startswith((".", "/", "~")):
                continue  # a named volume: no host folder
        elif isinstance(v, Mapping) and v.get("type") == "bind":
            source, target = str(v.get("source", "")), str(v.get("target", ""))
        else:
            continue
        if source and target:
            out.append((os.path.normpath(compose_dir / interpolate(source)[0]), target))
    return tuple(out)


def compose_services(topology: Topology, compose: Mapping[str, Any], compose_dir: Path) -> dict[str, ComposeService]:
    """Each topology service found in `compose` (by its compose_service) -> what a Deployment takes from it (pure)."""
    services = compose.get("services") or {}
    out = {}
    for name, svc in sorted(topology.services.items()):
        spec = services.get(svc.compose_service)
        if not isinstance(spec, Mapping):
            continue
        raw = spec.get("image")
        image, whole = interpolate(str(raw)) if raw else ("", True)
        note = ("" if image and whole else
                f"its image {raw!r} needs a variable with no default" if raw else
                "the compose service has no image (only `build:`)" if spec.get("build") else
                "the compose service has no image")
        out[name] = ComposeService(image=image if whole else "", env=_environment(spec.get("environment")),
                                   command=_words(spec.get("command")), entrypoint=_words(spec.get("entrypoint")),
                                   binds=_binds(spec.get("volumes"), compose_dir), note=note)
    return out


def mounted_at(topology: Topology, spec: ConfigSourceSpec, inputs: K8sInputs) -> dict[str, str]:
    """Consumer -> where the file source's file is inside its container: container_path, else through a
    compose bind mount of a folder holding it; consumers for which neither says are left out (pure)."""
    if spec.container_path:
        return {c: spec.container_path for c in spec.consumers}
    host = os.path.normpath(spec.file_path(topology.root))
    out = {}
    for consumer in spec.consumers:
        for source, target in inputs.services.get(consumer, ComposeService()).binds:
            if host.startswith(source.rstrip("/") + "/"):
                out[consumer] = target.rstrip("/") + "/" + host[len(source.rstrip("/")) + 1:]
                break
    return out


def read_inputs(topology: Topology) -> K8sInputs:
    """Read the topology's compose file (if it names one) and its file config sources; UsageError naming what failed."""
    from ..init import load_compose

    services: dict[str, ComposeService] = {}
    if topology.compose_file is not None:
        services = compose_services(topology, load_compose(topology.compose_file), topology.compose_file.parent)
    files = {}
    for name, spec in sorted(topology.config_sources.items()):
        if spec.kind != "file":
            continue
        path = spec.file_path(topology.root)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise UsageError(f"config.{name}.path: cannot read {str(path)!r} ({exc.strerror or exc}); the ConfigMap "
                             "holds the file's content, so it must exist: create it, or fix the path") from None
        if len(data) > MAX_CONFIGMAP_BYTES:
            raise UsageError(f"config.{name}.path: {path} is {len(data)} bytes; a ConfigMap holds at most "
                             f"{MAX_CONFIGMAP_BYTES} (1 MiB): keep that config in etcd or a volume instead")
        files[name] = data
    return K8sInputs(compose_file=str(topology.compose_file or ""), services=services, files=files)
