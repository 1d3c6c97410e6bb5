"""The holder: the background process `cascade up` leaves behind, owning one detached mesh and its faults.

    python -m harness.cli._holder '{"topology": PATH, "runtime": "local", "mode": "resilient", "log": PATH}'
      claim <state>/up/<name>.json ─> Mesh(detached=True).start() ─> one JSON line on stdout
      ─> serve one request at a time on 127.0.0.1 (status, inject, heal, down) until `down` or SIGTERM
      ─> revert every fault, stop the mesh, forget the file

Faults go through `Chaos.apply` (the same verified apply code the scenarios use) and are written
to the run-state file *before* they are applied, so a crash at any point leaves no fault that
`cascade status`, `cascade down` or the leftovers reaper does not know about.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shlex
import signal
import socket
import sys
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from ..chaos import Chaos
from ..errors import HarnessError, InvalidFault, ToxiproxyError, UsageError
from ..faults import fault_from_spec
from ..mesh import Mesh
from ..paths import state_dir
from ..runtime.runstate import RunRecord, process_start_ticks
from ..runtime.health import health_error
from ..topology import Topology, load_topology, parse_edge_name
from ._held import HeldMesh, claim, read_line, same_token

__all__ = ["Holder", "main", "matcher"]

REQUEST_READ_S = 10.0
HEALTH_TIMEOUT_S = 1.0


def matcher(topology: Topology, target: str | None) -> Callable[[tuple[str, ...]], bool]:
    """Which faults `heal TARGET` reverts: those on the edge, or on the service or any edge into or out of it."""
    if target is None:
        return lambda _targets: True
    if "->" in target:
        edge = topology.edge(target).name  # InvalidTopology (a UsageError) names the edges that exist
        return lambda targets: edge in targets
    if target not in topology.services:
        raise InvalidFault(f"unknown edge or service {target!r}; services are: {', '.join(sorted(topology.services))}"
                           f"; edges are: {', '.join(sorted(topology.edges))}")
    return lambda targets: any(t == target or ("->" in t and target in parse_edge_name(t)) for t in targets)


class Holder:
    """One held mesh: its chaos, and the fault records kept in its run-state file."""

    def __init__(self, mesh: Mesh, held: HeldMesh, path: Path, log: Path) -> None:
        self.mesh = mesh
        self.held = held
        self.path = path
        self.log = log
        self.chaos = Chaos(mesh, observe=False)
        self.records: list[tuple[Any, dict[str, Any]]] = []  # (fault, its resource in the run-state file)

    # -- requests ----------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        mesh, topo, rt = self.mesh, self.mesh.topology, self.mesh.runtime
        names = sorted(topo.services)
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            services = list(pool.map(self._service, names))
        proxies = mesh.toxiproxy.proxies()
        return {
            "topology": topo.name, "topology_path": self.held.topology, "runtime": self.held.runtime,
            "mode": str(mesh.mode), "run_id": self.held.run_id, "started": self.held.started,
            "holder_pid": os.getpid(), "logs": str(rt.record.log_dir) if rt.record else "",
            "override": str(getattr(rt, "override", None) or ""),  # compose: the generated override file
            "toxiproxy": {"url": rt.toxiproxy_url, "version": mesh.toxiproxy.version()},
            "services": services,
            "proxies": [{"edge": p.name, "listen": p.listen, "upstream": p.upstream, "enabled": p.enabled,
                         "toxics": [t.payload() for t in p.toxics]} for _n, p in sorted(proxies.items())],
            "faults": [{**rec, "kind": fault.kind} for fault, rec in self.records],
            "http_engine": self._engine(),
            "config_sources": self._config_sources(),
        }

    def _config_sources(self) -> list[dict[str, Any]]:
        """Each [config.NAME]: where it lives, its current version and checksum as read now, the push in place."""
        from ..config.stored import sha256
        from ..errors import HarnessError

        out = []
        for name, spec in sorted(self.mesh.topology.config_sources.items()):
            where = {"file": spec.container_path or spec.path, "env": f"{spec.var} of {','.join(spec.consumers)}",
                     "etcd": f"{spec.endpoints} {spec.key}", "http": f"service {spec.service}"}.get(spec.kind, "")
            row: dict[str, Any] = {"name": name, "kind": spec.kind, "where": where, "consumers": list(spec.consumers)}
            try:
                cur = self.mesh.config(name).current()
                row.update(version=cur.version, sha256=sha256(cur.raw.encode("utf-8", "surrogateescape"))[:12])
            except HarnessError as exc:
                row.update(version=None, sha256="", error=str(exc))
            row["pushed"] = [rec["fault"] for fault, rec in self.records
                             if fault.kind == "bad_config" and (getattr(fault, "source", "") or None) in (name, None)]
            out.append(row)
        return out

    def _engine(self) -> dict[str, Any] | None:
        """The HTTP engine's edges and the fault routes it serves now, read from Envoy itself (None: no engine)."""
        from ..clients.envoy import ENVOY_VERSION, describe_route

        engine = getattr(self.mesh.runtime, "engine", None)
        if engine is None:
            return None
        served = engine.served_all()
        return {"engine": f"envoy {ENVOY_VERSION}", "admin": engine.admin_url, "edges": [
            {"edge": edge, "listen": f"{engine.listen_host}:{e.listen_port}", "version": served[edge][0],
             "rules": [describe_route(r) for r in served[edge][1] if r.get("name") != "callee"]}
            for edge, e in sorted(engine.edges.items())]}

    def inject(self, kind: str, target: str, params: dict[str, Any]) -> dict[str, Any]:
        fault = fault_from_spec(kind, target, **params)
        self.chaos.validate(fault)
        rec = self.run_record.add_resource(kind="fault", fault=fault.describe(), state="applying",
                                          targets=list(self.chaos.targets(fault)), since=_now())
        try:
            self.chaos.apply(fault)
        except BaseException as exc:
            self.run_record.drop_resource(rec)  # apply_fault undid what it had started
            if isinstance(exc, ToxiproxyError) and exc.status == 409:  # the same toxic twice on one edge
                raise ToxiproxyError(f"{fault.describe()} cannot stack on an active {fault.kind} fault of the same "
                                     f"direction; `cascade heal {shlex.quote(fault.target)}` first", status=409) from None
            raise
        rec["state"] = "active"
        self.run_record.save()
        self.records.append((fault, rec))
        return {**rec, "kind": fault.kind}

    def heal(self, target: str | None = None) -> dict[str, Any]:
        which: Callable[[Any], bool] = lambda _fault: True
        if target is not None and target.startswith("config:"):  # the pushes to one config source
            topo = self.mesh.topology
            name = topo.config_source_named(target[len("config:"):]).name  # InvalidTopology names the sources

            def which(fault: Any) -> bool:
                if fault.kind != "bad_config":
                    return False
                return (fault.source or topo.config_source_named(None).name) == name

            touching = matcher(topo, None)
        else:
            touching = matcher(self.mesh.topology, target)
        seen = len(self.chaos.timeline)
        try:
            reverted = self.chaos.revert(touching, which=which)
        finally:
            failed = {ev.fault for ev in self.chaos.timeline[seen:] if ev.action == "revert_failed"}
            self._forget(failed)
        return {"reverted": [f.describe() for f in reverted], "left": [r["fault"] for _f, r in self.records]}

    def down(self) -> dict[str, Any]:
        """Revert every fault (best effort, reported), stop the mesh, forget it."""
        problems: list[str] = []
        reverted: list[str] = []
        try:
            reverted = self.heal()["reverted"]
        except HarnessError as exc:
            problems.append(str(exc))
        self.mesh.stop()
        self.path.unlink(missing_ok=True)
        if self.log.exists():  # kept with the run's other logs (pruned like them), not in the up dir
            os.replace(self.log, self.run_record.log_dir / "holder.log")
        return {"reverted": reverted, "problems": problems, "stopped": self.held.name}

    # -- internals -----------------------------------------------------------------------

    @property
    def run_record(self) -> RunRecord:
        rec = self.mesh.runtime.record
        assert rec is not None, "a started mesh has a run record"
        return rec

    def _forget(self, failed: set[str]) -> None:
        """Drop the records of faults no longer active; one whose revert failed stays listed, marked."""
        keep = []
        for fault, rec in self.records:
            if any(fault is a for a in self.chaos.active):
                keep.append((fault, rec))
            elif rec["fault"] in failed:
                rec["state"] = "revert_failed"
                keep.append((fault, rec))
            else:
                self.run_record.drop_resource(rec)
        self.records = keep
        self.run_record.save()

    def _service(self, name: str) -> dict[str, Any]:
        rt, svc = self.mesh.runtime, self.mesh.topology.services[name]
        running = rt.is_running(name)
        state = "stopped" if not running else "paused" if rt.is_paused(name) else "running"
        host, port = self.mesh.address(name)
        health = health_error(svc, host, port, HEALTH_TIMEOUT_S) if state == "running" else state
        scheme = "http" if svc.http else "tcp"
        return {"name": name, "pid": rt.pid(name), "url": f"{scheme}://{host}:{port}",
                "state": state, "health": health or "ok"}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _error(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, HarnessError):
        return {"ok": False, "type": type(exc).__name__, "error": str(exc)}
    if isinstance(exc, KeyboardInterrupt):
        return {"ok": False, "type": "HarnessError", "error": "the holder was stopped while starting the mesh"}
    return {"ok": False, "type": "HarnessError", "error": f"the holder failed: {type(exc).__name__}: {exc}"}


def serve(holder: Holder, srv: socket.socket) -> None:
    """Answer requests one at a time until one says `down`."""
    ops: dict[str, Callable[..., Any]] = {"status": holder.status, "inject": holder.inject, "heal": holder.heal,
                                          "down": holder.down}
    while True:
        conn, _addr = srv.accept()
        with conn:
            conn.settimeout(REQUEST_READ_S)
            try:
                req = json.loads(read_line(conn))
            except (OSError, ValueError):
                continue  # a client that went away or sent garbage: nothing to answer
            op = req.get("op") if isinstance(req, dict) else None
            try:
                if not same_token(req.get("token"), holder.held.token):
                    raise UsageError("wrong token; only the user who ran `cascade up` can drive this mesh")
                if op not in ops:
                    raise UsageError(f"unknown request {op!r}; the holder knows: {', '.join(ops)}")
                reply = {"ok": True, "result": ops[op](**dict(req.get("args") or {}))}
            except Exception as exc:  # noqa: BLE001 - every failure goes back to the client as one line
                if not isinstance(exc, HarnessError):
                    traceback.print_exc()
                reply = _error(exc)
            print(f"{_now()} {op} {req.get('args') or ''}: " + ("ok" if reply["ok"] else reply["error"]))
            conn.settimeout(None)
            try:
                conn.sendall(json.dumps(reply, default=str).encode() + b"\n")
            except OSError:
                pass  # the client gave up waiting; what was done is in the run-state file
        if op == "down" and reply["ok"]:
            return


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    signal.signal(signal.SIGTERM, _interrupt)  # `kill PID` unwinds like `cascade down`: faults reverted
    ready = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # from now on stdout is the holder's log; `ready` is the pipe `cascade up` reads once
    try:
        holder, srv = _start(spec)
    except BaseException as exc:  # noqa: BLE001 - reported to `cascade up`; _start tore down what it began
        if not isinstance(exc, (HarnessError, KeyboardInterrupt)):
            traceback.print_exc()
        print(f"{_now()} the mesh did not come up: {_error(exc)['error']}")
        _send(ready, _error(exc))
        return 1
    try:
        _send(ready, {"ok": True, "result": holder.status()})
        serve(holder, srv)
    except KeyboardInterrupt as exc:
        print(f"{_now()} stopping on {exc}: reverting faults, stopping the mesh")
    finally:
        if holder.path.exists():  # not stopped by a `down` request: SIGTERM or a crash of the loop
            print(f"{_now()} down: {holder.down()}")
    return 0


def _start(spec: dict[str, str]) -> tuple[Holder, socket.socket]:
    """Claim the topology's name, bring the mesh up detached, record the holder in its run state."""
    srv = socket.create_server(("127.0.0.1", 0))
    topology = load_topology(spec["topology"])
    held = HeldMesh(name=topology.name, topology=spec["topology"], runtime=spec["runtime"], mode=spec["mode"],
                    holder_pid=os.getpid(), holder_ticks=process_start_ticks(os.getpid()) or 0,
                    port=srv.getsockname()[1], token=secrets.token_urlsafe(24), started=_now())
    path = claim(state_dir(), held)
    try:
        mesh = Mesh(topology, runtime=spec["runtime"], mode=spec["mode"], detached=True, log=print).start()
    except BaseException:
        path.unlink(missing_ok=True)  # Mesh.start tore the mesh down already
        raise
    try:
        if topology.journeys:
            mesh.steady_state()  # the baseline gate: a mesh broken at rest is not left up to be faulted
    except BaseException:
        mesh.stop()
        path.unlink(missing_ok=True)
        raise
    holder = Holder(mesh, held, path, Path(spec["log"]))
    holder.run_record.add_process("cascade-holder", os.getpid())  # `cascade cleanup --all` stops the holder too
    holder.held = dataclasses.replace(held, state="up", run_id=holder.run_record.run_id)
    holder.held.save(path)
    return holder, srv


def _send(stream: Any, message: dict[str, Any]) -> None:
    """Tell `cascade up` how the start went, once; later calls find the pipe closed and do nothing."""
    if stream.closed:
        return
    try:
        stream.write(json.dumps(message, default=str) + "\n")
        stream.close()
    except OSError:
        pass  # `cascade up` is gone (Ctrl-C): the log has it all


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
