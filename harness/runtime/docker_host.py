"""Where the compose runtime's Docker engine is, and where its published ports are reached (pure: reads env only).

    DOCKER_HOST                       CASCADE_DOCKER_ADDRESS   -> address     ports published on   remote
    (unset), unix:///..., npipe://    (unset)                     127.0.0.1   127.0.0.1            no
    tcp://docker:2375                 (unset)                     docker      0.0.0.0              yes
    tcp://127.0.0.2:2375              (unset)                     127.0.0.2   127.0.0.2            yes
    ssh://ci@build-box                10.0.0.7                    10.0.0.7    0.0.0.0              yes

`address` is where the harness reaches every published port: the services' health checks and
journeys, Toxiproxy's API, Envoy's admin API. Ports are published on that address when it is a
loopback IP (nothing beyond this machine can reach them), else on 0.0.0.0: the remote engine's
own interfaces, the only ones a harness on another host can reach.

An engine behind tcp:// or ssh:// is treated as remote: Cascade cannot tell whether it shares
this machine's files, so nothing may depend on a host path reaching a container (a bind mount of
a folder Cascade writes into). `remote_problems` names what a topology would need of one.
"""

from __future__ import annotations

import ipaddress
import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping
from urllib.parse import urlsplit

from ..errors import UsageError

if TYPE_CHECKING:
    from ..topology import Topology

__all__ = ["ADDRESS_ENV", "DockerHost", "LOCAL_ADDRESS", "docker_host_from_env", "remote_problems"]

ADDRESS_ENV = "CASCADE_DOCKER_ADDRESS"
LOCAL_ADDRESS = "127.0.0.1"
_LOCAL_SCHEMES = ("unix", "npipe")  # a socket on this machine
_REMOTE_SCHEMES = ("tcp", "http", "https", "ssh")  # what the Docker SDK and CLI take besides those
_HOSTNAME = re.compile(r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")


@dataclass(frozen=True)
class DockerHost:
    """The engine the compose runtime talks to, and where the ports it publishes are reached."""

    url: str
    """DOCKER_HOST as given ('' for the default local socket)."""
    address: str
    """Where the harness reaches published ports: CASCADE_DOCKER_ADDRESS, else DOCKER_HOST's host, else 127.0.0.1."""
    remote: bool
    """Whether the engine is reached over the network (tcp://, ssh://): host paths may not reach its containers."""

    @property
    def bind(self) -> str:
        """The host IP ports are published on: `address` when it is a loopback IP, else 0.0.0.0."""
        try:
            loopback = ipaddress.ip_address(self.address).is_loopback
        except ValueError:
            loopback = False
        return self.address if loopback else "0.0.0.0"

    def describe(self) -> str:
        """One line for logs and headers: the engine and where its ports are reached."""
        engine = self.url or "the local socket"
        return f"Docker engine {engine}, published ports reached on {self.address}"


def docker_host_from_env(env: Mapping[str, str] | None = None) -> DockerHost:
    """The engine DOCKER_HOST names and the address CASCADE_DOCKER_ADDRESS gives; UsageError naming a bad value."""
    env = os.environ if env is None else env
    url = env.get("DOCKER_HOST", "").strip()
    host, remote = "", False
    if url:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in _REMOTE_SCHEMES:
            try:
                host = parts.hostname or ""
                parts.port  # noqa: B018 -- raises ValueError on a port that is not a number
            except ValueError:
                host = ""
            if not host:
                raise UsageError(f"DOCKER_HOST={url!r} names no host (or a port that is not a number); write it as "
                                 "tcp://HOST:2375 (or ssh://USER@HOST), or unset it for the local engine")
            remote = True
        elif scheme not in _LOCAL_SCHEMES:
            raise UsageError(f"DOCKER_HOST={url!r} is not an engine address Docker takes; write it as "
                             "unix:///var/run/docker.sock, tcp://HOST:2375 or ssh://USER@HOST, or unset it")
    given = env.get(ADDRESS_ENV, "").strip()
    if given:
        address = _checked_address(given)
    elif host:
        address = _checked_address(host, origin=f"the host of DOCKER_HOST={url!r}")
    else:
        address = LOCAL_ADDRESS
    return DockerHost(url=url, address=address, remote=remote)


def _checked_address(value: str, origin: str = "") -> str:
    """`value` as an address to reach published ports on (localhost is 127.0.0.1); UsageError naming the fix."""
    origin = origin or f"{ADDRESS_ENV}={value!r}"
    if value.lower() == "localhost":
        return LOCAL_ADDRESS  # a name would be published on 0.0.0.0; this one means loopback
    try:
        ip = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None and ip.version == 6:
        raise UsageError(f"{origin} is an IPv6 address, and Cascade reaches published ports over IPv4 only; "
                         f"set {ADDRESS_ENV} to the engine host's IPv4 address or host name")
    if ip is None and not _HOSTNAME.fullmatch(value):
        raise UsageError(f"{origin} is not a host name or IPv4 address; set {ADDRESS_ENV} to where the engine's "
                         "published ports are reached, without scheme or port (e.g. docker or 10.0.0.5)")
    return str(ip) if ip is not None else value


def remote_problems(topology: Topology) -> list[str]:
    """What in `topology` cannot work on a remote engine, one line each naming the fix ([] if nothing) (pure)."""
    out = []
    for name, spec in sorted(topology.config_sources.items()):
        if spec.kind == "file" and not spec.container_path:
            out.append(f"config.{name} (kind = \"file\") writes {spec.path!r} on this machine, which the remote "
                       f"engine's containers do not see; set config.{name}.container_path to the file's path "
                       "inside the container, which Cascade writes through the Docker API")
    return out
