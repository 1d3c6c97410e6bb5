"""Loopback port leases that two meshes on one machine can never share.

A lease is a free port on 127.0.0.1 plus an exclusive `flock` on a per-port lock file, held
for the mesh's lifetime. Another mesh (another pytest-xdist worker, another terminal) skips
locked ports, so the bind-check-then-release race of "bind to port 0" cannot hand the same
port to two meshes. The kernel drops the locks when a runner dies, even by SIGKILL.

Ports come from below the kernel's ephemeral range (32768-60999 on Linux), so outgoing
connections never squat on a port a service is about to bind.
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import socket
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ProvisionError

__all__ = ["PortLease", "lease_keys", "lease_ports"]

LOW, HIGH = 20000, 32000


@dataclass
class PortLease:
    """Ports held for one mesh; `release()` (or process death) gives them back."""

    ports: list[int]
    _fds: list[int] = field(default_factory=list, repr=False)

    def release(self) -> None:
        for fd in self._fds:
            try:
                os.close(fd)  # closing the descriptor drops the flock
            except OSError:
                pass
        self._fds.clear()


def lease_ports(count: int, lock_dir: Path, *, rng: random.Random | None = None) -> PortLease:
    """Lease `count` distinct free loopback ports, each locked against other meshes."""
    lock_dir.mkdir(parents=True, exist_ok=True)
    rng = rng or random.Random()
    span = HIGH - LOW
    start = rng.randrange(span)
    lease = PortLease(ports=[])
    for i in range(span):
        if len(lease.ports) == count:
            return lease
        port = LOW + (start + i) % span
        fd = _try_lock(lock_dir / f"{port}.lock")
        if fd is None:
            continue
        if _bindable(port):
            lease.ports.append(port)
            lease._fds.append(fd)
        else:
            os.close(fd)
    lease.release()
    raise ProvisionError(
        f"could not lease {count} free ports on 127.0.0.1 in {LOW}-{HIGH}; "
        f"stop other meshes (`cascade down`) or free ports in that range"
    )


def lease_keys(keys: dict[str, str], lock_dir: Path) -> PortLease | str:
    """Hold an exclusive lock per key (the same machine-wide resource, e.g. a config file's real path) for one mesh.

    `keys` maps each key to what it is called in a message. All are held, or none: the name of the
    first one another mesh holds is returned instead of a lease.
    """
    import hashlib

    lock_dir.mkdir(parents=True, exist_ok=True)
    lease = PortLease(ports=[])
    for key, name in sorted(keys.items()):
        try:
            fd = _try_lock(lock_dir / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.lock")
        except OSError:
            lease.release()
            raise
        if fd is None:
            lease.release()
            return name
        lease._fds.append(fd)
    return lease


def _try_lock(path: Path) -> int | None:
    """An open descriptor holding an exclusive flock on `path`, or None when another holder has it."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None
        raise
    return fd


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # Servers set SO_REUSEADDR too, so a port in TIME_WAIT is usable for them as for us.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True
