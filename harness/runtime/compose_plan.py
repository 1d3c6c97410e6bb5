"""The compose runtime's plan, pure: which compose binary, the override document, the proxies.

Nothing here talks to an engine, so all of it is unit-tested without Docker
(tests/unit/test_compose_plan.py). `runtime/compose.py` executes the plan.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any, Mapping, Sequence

from ..errors import ProvisionError, UsageError
from ..modes import Mode
from ..topology import Topology
from ..toxiproxy import ProxySpec

__all__ = [
    "FIRST_PROXY_PORT", "HOST", "TOXIPROXY_API_PORT", "TOXIPROXY_IMAGE", "TOXIPROXY_SERVICE",
    "build_override", "compose_command", "compose_version", "proxy_specs",
]

HOST = "127.0.0.1"
TOXIPROXY_SERVICE = "toxiproxy"
TOXIPROXY_IMAGE = "cascade/toxiproxy:2.12.0"  # or ghcr.io/shopify/toxiproxy:2.12.0: same layout
TOXIPROXY_API_PORT = 8474
FIRST_PROXY_PORT = 10000  # inside the toxiproxy container: edge i (sorted) listens on 10000 + i


def compose_command(env: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """`docker compose` (v2) if it runs, else `docker-compose` (v1); CASCADE_COMPOSE=v1|v2 forces one."""
    env = os.environ if env is None else env
    forced = env.get("CASCADE_COMPOSE", "").strip().lower()
    if forced not in ("", "v1", "v2"):
        raise UsageError(f"CASCADE_COMPOSE must be v1 or v2, got {forced!r}")
    path = env.get("PATH", os.defpath)
    docker, v1 = shutil.which("docker", path=path), shutil.which("docker-compose", path=path)
    v2_ok = False
    if forced != "v1" and docker:
        try:
            v2_ok = subprocess.run([docker, "compose", "version"], capture_output=True, timeout=20,
                                   env=dict(env)).returncode == 0
        except (OSError, subprocess.SubprocessError):
            v2_ok = False
    if v2_ok and docker:
        return (docker, "compose")
    if forced != "v2" and v1:
        return (v1,)
    wanted = {"v1": "docker-compose (v1)", "v2": "`docker compose` (v2)"}.get(forced, "`docker compose` (v2) or docker-compose (v1)")
    raise ProvisionError(
        f"the compose runtime needs {wanted}, and it is not available; run docker/engine.sh "
        "(installs Debian's docker.io and docker-compose v1, and builds the docker compose v2 plugin)"
        + ("" if not forced else "; or unset CASCADE_COMPOSE to use whichever is installed")
    )


def compose_version(command: Sequence[str], env: Mapping[str, str] | None = None) -> str:
    """'docker compose 2.29.7 (v2)' or 'docker-compose 1.29.2 (v1)' for a command from compose_command()."""
    flavour = "v2" if command[-1] == "compose" else "v1"
    name = "docker compose" if flavour == "v2" else "docker-compose"
    try:
        done = subprocess.run([*command, "version", "--short"], capture_output=True, text=True, timeout=20,
                              env=None if env is None else dict(env))
        version = done.stdout.strip().removeprefix("v") if done.returncode == 0 else "?"
    except (OSError, subprocess.SubprocessError):
        version = "?"
    return f"{name} {version or '?'} ({flavour})"


def build_override(
    topology: Topology, mode: Mode, secret: str, proxy_ports: Mapping[str, int], *,
    toxiproxy_image: str = TOXIPROXY_IMAGE, publish_proxies: bool = True,
) -> dict[str, Any]:
    """The override document: a toxiproxy service, and per service its edges rerouted through it."""
    tp_ports = [f"{HOST}::{TOXIPROXY_API_PORT}"]
    if publish_proxies:
        tp_ports += [f"{HOST}::{p}" for _, p in sorted(proxy_ports.items())]
    services: dict[str, Any] = {
        TOXIPROXY_SERVICE: {
            "image": toxiproxy_image,
            "command": ["-host", "0.0.0.0", "-port", str(TOXIPROXY_API_PORT)],
            "init": True,
            "user": "65534:65534",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "read_only": True,
            "ports": tp_ports,
            "restart": "no",
        }
    }
    for name, svc in sorted(topology.services.items()):
        env = {**topology.env, **svc.env, **mode.env(), "CASCADE_CONFIG_TOKEN": secret}
        for edge in topology.edges_from(name):
            env[edge.env] = edge.address(TOXIPROXY_SERVICE, proxy_ports[edge.name])
        services[svc.compose_service] = {
            "environment": env,
            "ports": [f"{HOST}::{svc.container_port}"],
            "depends_on": [TOXIPROXY_SERVICE],
            "restart": "no",
        }
    return {"services": services}


def proxy_specs(topology: Topology, proxy_ports: Mapping[str, int]) -> list[ProxySpec]:
    """One proxy per edge: listening on every interface of the toxiproxy container, to the callee by service name."""
    specs = []
    for name, port in sorted(proxy_ports.items()):
        callee = topology.services[topology.edges[name].callee]
        specs.append(ProxySpec(name=name, listen=f"0.0.0.0:{port}",
                               upstream=f"{callee.compose_service}:{callee.container_port}"))
    return specs
