"""The compose runtime's plan, pure: which compose binary, the override document, the proxies, the engine's edges.

Nothing here talks to an engine, so all of it is unit-tested without Docker
(tests/unit/test_compose_plan.py). `runtime/compose.py` executes the plan.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..errors import ProvisionError, UsageError
from ..modes import Mode
from ..topology import Topology
from ..clients.envoy import EdgeListener
from ..clients.toxiproxy import ProxySpec
from .base import engine_edges

__all__ = [
    "ENVOY_ADMIN_PORT", "ENVOY_DIR", "ENVOY_IMAGE", "ENVOY_SERVICE", "FIRST_ENGINE_PORT", "FIRST_PROXY_PORT",
    "HOST", "TOXIPROXY_API_PORT", "TOXIPROXY_IMAGE", "TOXIPROXY_SERVICE",
    "build_override", "compose_command", "compose_version", "engine_listeners", "engine_ports", "override_header",
    "proxy_specs",
]

HOST = "127.0.0.1"
TOXIPROXY_SERVICE = "toxiproxy"
TOXIPROXY_IMAGE = "cascade/toxiproxy:2.12.0"  # or ghcr.io/shopify/toxiproxy:2.12.0: same layout
TOXIPROXY_API_PORT = 8474
FIRST_PROXY_PORT = 10000  # inside the toxiproxy container: edge i (sorted) listens on 10000 + i
ENVOY_SERVICE = "envoy"  # the HTTP fault engine (clients/envoy.py), on every HTTP edge unless CASCADE_HTTP_ENGINE=off
ENVOY_IMAGE = "cascade/envoy:1.40.0"  # docker/build-images.sh: the binary the local runtime runs
ENVOY_ADMIN_PORT = 9901
FIRST_ENGINE_PORT = 11000  # inside the envoy container: engine edge i (sorted) listens on 11000 + i
ENVOY_DIR = "/etc/cascade/envoy"  # inside the envoy container: the run's envoy directory, mounted read-only


def engine_ports(topology: Topology) -> dict[str, int]:
    """Edge -> the port of its listener in the envoy container, for every edge the engine takes (engine_edges)."""
    return {e: FIRST_ENGINE_PORT + i for i, e in enumerate(engine_edges(topology))}


def engine_listeners(topology: Topology, ports: Mapping[str, int]) -> list[EdgeListener]:
    """Envoy's listener per engine edge, forwarding to the callee by compose service name (a DNS cluster)."""
    out = []
    for name, port in sorted(ports.items()):
        callee = topology.services[topology.edges[name].callee]
        out.append(EdgeListener(name, port, (callee.compose_service, callee.container_port)))
    return out


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
    engine: Mapping[str, int] | None = None, engine_dir: Path | str | None = None,
    engine_command: Sequence[str] = (), envoy_image: str = ENVOY_IMAGE, bind: str = HOST,
    engine_in_volume: bool = False,
) -> dict[str, Any]:
    """The override document: a toxiproxy service, and per service its edges rerouted through it.

    With HTTP edges (`engine`: edge -> Envoy listener port, default engine_ports(topology)), an
    `envoy` service too: `engine_command` (EnvoyEngine.prepare's) on the bootstrap and routes of
    the host directory `engine_dir`, mounted read-only at ENVOY_DIR; its admin API published.
    Toxiproxy's proxies of those edges forward to it (proxy_specs). `engine_in_volume` (a remote
    engine, which sees no host directory): ENVOY_DIR is a volume of the container instead, which
    the runtime fills through the Docker API before Envoy starts; no `engine_dir` then.

    Every port is published on `bind` (docker_host.DockerHost.bind): 127.0.0.1 by default.
    """
    tp_ports = [f"{bind}::{TOXIPROXY_API_PORT}"]
    if publish_proxies:
        tp_ports += [f"{bind}::{p}" for _, p in sorted(proxy_ports.items())]
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
    engine = engine_ports(topology) if engine is None else engine
    if engine:
        if not engine_command or (engine_dir is None and not engine_in_volume):
            raise ValueError("the HTTP engine's service needs engine_dir and engine_command "
                             "(EnvoyEngine.prepare's), or engine_in_volume; or no engine edges (CASCADE_HTTP_ENGINE=off)")
        if engine_in_volume:
            # a remote engine: an anonymous volume (gone with `down -v`) the runtime writes through the API
            volume: dict[str, Any] = {"type": "volume", "target": ENVOY_DIR}
        else:
            # the engine writes routes on the host; Envoy watches them here (file-based RDS)
            volume = {"type": "bind", "source": str(engine_dir), "target": ENVOY_DIR, "read_only": True}
        services[ENVOY_SERVICE] = {
            "image": envoy_image,
            "entrypoint": list(engine_command[:1]),
            "command": list(engine_command[1:]),
            "init": True,
            "user": "65534:65534",
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "read_only": True,
            "volumes": [volume],
            "ports": [f"{bind}::{ENVOY_ADMIN_PORT}"],
            "restart": "no",
        }
    for name, svc in sorted(topology.services.items()):
        env = {**topology.env, **svc.env, **mode.env(topology.knobs_env), "CASCADE_CONFIG_TOKEN": secret}
        for edge in topology.edges_from(name):
            env[edge.env] = edge.address(TOXIPROXY_SERVICE, proxy_ports[edge.name])
        services[svc.compose_service] = {
            "environment": env,
            "ports": [f"{bind}::{svc.container_port}"],
            "depends_on": [TOXIPROXY_SERVICE],
            "restart": "no",
        }
    return {"services": services}


def override_header(topology: Topology, compose_file: object, *, engine: Mapping[str, int] | None = None,
                    bind: str = HOST, engine_in_volume: bool = False) -> str:
    """The comment at the top of a generated override: exactly what it changes in the user's file, and why.

    `bind` and `engine_in_volume` as build_override's `bind` and `engine_dir=None` (a remote engine).
    """
    engine = engine_ports(topology) if engine is None else engine
    where = bind if bind != "0.0.0.0" else "0.0.0.0 (the remote engine's interfaces)"
    lines = [
        f"Generated by Cascade for topology {topology.name!r} over {compose_file}; it changes only this:",
        f"- adds the service {TOXIPROXY_SERVICE!r}: Toxiproxy, its API and one listener per edge on {where}",
        "- for each service of the topology it sets these environment variables, over any value your file gives:",
        "    each outgoing edge's variable -> the edge's proxy (toxiproxy:<port>), so every fault lands on that edge",
    ]
    if engine:
        lines[2:2] = [
            f"- adds the service {ENVOY_SERVICE!r}: Envoy, the HTTP fault engine, one listener per HTTP edge "
            f"({len(engine)}): the edge's proxy forwards to it, it forwards to the callee",
            (f"    its bootstrap and routes: a volume at {ENVOY_DIR}, written through the Docker API; "
             if engine_in_volume else
             f"    its bootstrap and routes: the run's directory, mounted read-only at {ENVOY_DIR}; ")
            + f"its admin API on {where}",
        ]
    if topology.env:
        lines.append(f"    {', '.join(sorted(topology.env))} -> [mesh] env of the topology (declared by you, for every service)")
    for name, svc in sorted(topology.services.items()):
        if svc.env:
            lines.append(f"    {', '.join(sorted(svc.env))} -> services.{name}.env of the topology (declared by you)")
    lines += [
        "    CASCADE_MODE, CASCADE_BRITTLE -> the run's mode (resilient, or brittle with its knobs)"
        + (f"; {topology.knobs_env} -> the brittle knobs again, as [mesh] knobs_env asks" if topology.knobs_env else ""),
        "    CASCADE_CONFIG_TOKEN -> a secret per run: only this run's harness may push config through the config service",
        f"- publishes each service's container_port on {where} (an ephemeral host port), so the harness can reach it",
        "- depends_on: toxiproxy, and restart: \"no\", so a Kill stays killed until Cascade restarts the service",
        "Nothing else of your file changes: images, commands, volumes, networks and every other variable stay yours.",
    ]
    return "".join(f"# {line}\n" for line in lines)


def proxy_specs(topology: Topology, proxy_ports: Mapping[str, int], *,
                engine: Mapping[str, int] | None = None) -> list[ProxySpec]:
    """One proxy per edge, listening on every interface of the toxiproxy container: to the callee by service
    name, or for an engine edge (`engine`, default engine_ports(topology)) to its Envoy listener."""
    engine = engine_ports(topology) if engine is None else engine
    specs = []
    for name, port in sorted(proxy_ports.items()):
        callee = topology.services[topology.edges[name].callee]
        upstream = (f"{ENVOY_SERVICE}:{engine[name]}" if name in engine
                    else f"{callee.compose_service}:{callee.container_port}")
        specs.append(ProxySpec(name=name, listen=f"0.0.0.0:{port}", upstream=upstream))
    return specs
