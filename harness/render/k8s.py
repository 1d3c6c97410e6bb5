"""Kubernetes manifests for a topology (pure): the user's side (base/) and Cascade's overlay, as kustomize files.

    DIR/
      kustomization.yaml    the overlay: base/ plus the files below, and the edges patch
      base/                 your side, a starting point: per service a Deployment and a Service
      toxiproxy.yaml        Toxiproxy: its proxies (a ConfigMap loaded with -config), one port per edge
      envoy.yaml            the HTTP engine on HTTP edges: bootstrap and at-rest routes, Deployment, Service
      edges-patch.yaml      per caller Deployment: each outgoing edge's variable -> toxiproxy.<ns>.svc:<port>
      config-sources.yaml   per [config.X] kind = "file": a ConfigMap holding the file's content now

    caller ──> toxiproxy.<ns>.svc:<edge port> ─(HTTP edge)─> envoy.<ns>.svc:<port> ──> <callee>.<ns>.svc:<port>

As on compose (runtime/compose_plan.py), edge i (sorted) listens on 10000 + i in Toxiproxy and
HTTP edge i on 11000 + i in Envoy, and Envoy's bootstrap and routes are the engine's own
(clients/envoy.py). `k8s_manifests` builds the objects, `render_files` (k8s_text.py) their YAML text;
docs/kubernetes.md says what maps onto a cluster and what does not.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from pathlib import Path, PurePosixPath
from typing import Any, Mapping

from ..clients.envoy import EdgeListener, bootstrap, envoy_command, route_config
from ..clients.toxiproxy import ProxySpec
from ..errors import UsageError
from ..runtime.compose_plan import (
    ENVOY_ADMIN_PORT, ENVOY_DIR, ENVOY_IMAGE, ENVOY_SERVICE, FIRST_ENGINE_PORT, FIRST_PROXY_PORT, TOXIPROXY_API_PORT,
    TOXIPROXY_IMAGE, TOXIPROXY_SERVICE,
)
from ..topology import Topology
from .k8s_inputs import ComposeService, K8sInputs, mounted_at
from .k8s_text import render_files
from .names import dns_label, port_names, unique_labels

__all__ = ["NAMESPACE", "PLACEHOLDER_IMAGE", "check_options", "k8s_manifests", "render_files"]

NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
PLACEHOLDER_IMAGE = "placeholder.invalid/{service}:set-with-cascade-render-image"  # never pulls: .invalid never resolves
TOXIPROXY_DIR = "/etc/cascade/toxiproxy"
_HARDENED = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}}
_NOBODY = {"runAsNonRoot": True, "runAsUser": 65534, "runAsGroup": 65534}


def check_options(topology: Topology, namespace: str | None, images: Mapping[str, str]) -> None:
    """UsageError naming the bad value and its fix, before anything is rendered or written."""
    if namespace is not None and not NAMESPACE.match(namespace):
        raise UsageError(f"--namespace {namespace!r} is not a Kubernetes namespace name: lowercase letters, digits "
                         f"and '-', at most 63, starting and ending with a letter or digit; e.g. --namespace "
                         f"{dns_label(namespace or topology.name)}")
    for service, image in sorted(images.items()):
        if service not in topology.services:
            raise UsageError(f"--image {service}={image}: unknown service {service!r}; services are: "
                             f"{', '.join(sorted(topology.services))}")
        if not image or any(c.isspace() for c in image):
            raise UsageError(f"--image {service}={image!r}: give an image reference, e.g. --image {service}=registry/"
                             f"{service}:1.0")


@dataclasses.dataclass(frozen=True)
class _Plan:
    """Every name and port of a render, decided once."""

    ns: str
    mesh: str
    names: Mapping[str, str]  # topology service -> Deployment/Service name
    proxy_ports: Mapping[str, int]  # edge -> Toxiproxy listener
    engine_ports: Mapping[str, int]  # HTTP edge -> Envoy listener ({} without the engine)
    port_names: Mapping[str, str]  # edge -> port name

    def host(self, name: str) -> str:
        return f"{name}.{self.ns}.svc"

    def labels(self, name: str, *, ours: bool = False) -> dict[str, str]:
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": self.mesh}
        return {**labels, "app.kubernetes.io/managed-by": "cascade"} if ours else labels

    def meta(self, name: str, **extra: Any) -> dict[str, Any]:
        return {"name": name, "namespace": self.ns, **extra}


def _plan(topology: Topology, namespace: str | None, envoy: bool) -> _Plan:
    names = unique_labels(topology.services)
    ours = [TOXIPROXY_SERVICE] + ([ENVOY_SERVICE] if envoy and any(e.is_http for e in topology.edges.values()) else [])
    for service, name in sorted(names.items()):
        if name in ours:
            raise UsageError(f"services.{service}: its Kubernetes name {name!r} is Cascade's own {name} "
                             "Deployment's; rename the service in the topology")
    edges = sorted(topology.edges)
    http = [e for e in edges if envoy and topology.edges[e].is_http]
    return _Plan(
        ns=namespace or dns_label(topology.name), mesh=dns_label(topology.name), names=names,
        proxy_ports={e: FIRST_PROXY_PORT + i for i, e in enumerate(edges)},
        engine_ports={e: FIRST_ENGINE_PORT + i for i, e in enumerate(http)},
        port_names=port_names({e: (names[topology.edges[e].caller], names[topology.edges[e].callee]) for e in edges}),
    )


def _deployment(plan: _Plan, name: str, pod: dict[str, Any], *, ours: bool = False,
                annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    labels = plan.labels(name, ours=ours)
    selector = plan.labels(name)
    meta = plan.meta(name, labels=labels, **({"annotations": dict(annotations)} if annotations else {}))
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta,
            "spec": {"replicas": 1, "selector": {"matchLabels": selector},
                     "template": {"metadata": {"labels": labels}, "spec": pod}}}


def _service(plan: _Plan, name: str, ports: list[tuple[str, int]], *, ours: bool = False) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": plan.meta(name, labels=plan.labels(name, ours=ours)),
            "spec": {"selector": plan.labels(name),
                     "ports": [{"name": n, "port": p, "targetPort": p, "protocol": "TCP"} for n, p in ports]}}


def _config_map(plan: _Plan, name: str, data: Mapping[str, str], *, binary: Mapping[str, str] | None = None,
                annotations: Mapping[str, str] | None = None) -> dict[str, Any]:
    meta = plan.meta(name, labels=plan.labels(name, ours=True), **({"annotations": dict(annotations)} if annotations else {}))
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta}
    if data or not binary:
        doc["data"] = dict(data)
    if binary:
        doc["binaryData"] = dict(binary)
    return doc


def _base(topology: Topology, plan: _Plan, inputs: K8sInputs, images: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for service, svc in sorted(topology.services.items()):
        name = plan.names[service]
        compose = inputs.services.get(service, ComposeService())
        env = {**compose.env, **topology.env, **svc.env}
        env.setdefault(svc.port_env, str(svc.container_port))
        for edge in topology.edges_from(service):  # the user's own wiring: straight to the callee's Service
            callee = topology.services[edge.callee]
            env[edge.env] = edge.address(plan.names[edge.callee], callee.container_port)
        image = images.get(service) or compose.image
        annotations = {}
        if not image:
            image = PLACEHOLDER_IMAGE.format(service=name)
            why = (compose.note if service in inputs.services else
                   f"{inputs.compose_file} has no service {svc.compose_service!r}" if inputs.compose_file else
                   "the topology names no compose_file")
            annotations["cascade/image"] = f"placeholder ({why}): render with --image {service}=IMAGE or edit it here"
        port = "http" if svc.http else "tcp"
        probe: dict[str, Any] = ({"httpGet": {"path": svc.health, "port": svc.container_port}} if svc.http
                                 else {"tcpSocket": {"port": svc.container_port}})
        container: dict[str, Any] = {"name": name, "image": image}
        if compose.entrypoint is not None:
            container["command"] = list(compose.entrypoint)
        if compose.command is not None:
            container["args"] = list(compose.command)
        container.update({
            "ports": [{"name": port, "containerPort": svc.container_port}],
            "env": [{"name": k, "value": v} for k, v in sorted(env.items())],
            "readinessProbe": {**probe, "periodSeconds": 2, "failureThreshold": 3},
        })
        # Another container of the pod can then SIGSTOP it (Pause), and it is not PID 1 (as `init: true` on compose).
        pod = {"shareProcessNamespace": True, "containers": [container]}
        deployment = _deployment(plan, name, pod, annotations=annotations)
        filename = f"base/{name}.yaml"
        n = 1
        while filename in files or filename in ("base/kustomization.yaml", "base/namespace.yaml"):
            n += 1  # a service named like base/'s own files (or like one renamed for that) gets a numbered file
            filename = f"base/{name}-{n}.yaml"
        files[filename] = [deployment, _service(plan, name, [(port, svc.container_port)])]
    resources = sorted(PurePosixPath(f).name for f in files)
    if plan.ns != "default":
        files["base/namespace.yaml"] = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": plan.ns}}]
        resources.insert(0, "namespace.yaml")
    files["base/kustomization.yaml"] = [{"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                         "namespace": plan.ns, "resources": resources}]
    return files


def _toxiproxy(topology: Topology, plan: _Plan, image: str) -> list[dict[str, Any]]:
    proxies = []
    for edge, port in sorted(plan.proxy_ports.items()):
        callee = topology.edges[edge].callee
        upstream = (f"{plan.host(ENVOY_SERVICE)}:{plan.engine_ports[edge]}" if edge in plan.engine_ports
                    else f"{plan.host(plan.names[callee])}:{topology.services[callee].container_port}")
        proxies.append(dataclasses.asdict(ProxySpec(name=edge, listen=f"0.0.0.0:{port}", upstream=upstream)))
    ports = [("api", TOXIPROXY_API_PORT)] + [(plan.port_names[e], p) for e, p in sorted(plan.proxy_ports.items())]
    container = {
        "name": TOXIPROXY_SERVICE, "image": image,
        "args": ["-host=0.0.0.0", f"-port={TOXIPROXY_API_PORT}", f"-config={TOXIPROXY_DIR}/proxies.json"],
        "ports": [{"name": n, "containerPort": p} for n, p in ports],
        "readinessProbe": {"httpGet": {"path": "/version", "port": TOXIPROXY_API_PORT}, "periodSeconds": 2},
        "securityContext": _HARDENED,
        "volumeMounts": [{"name": "proxies", "mountPath": TOXIPROXY_DIR, "readOnly": True}],
    }
    pod = {"securityContext": _NOBODY, "containers": [container],
           "volumes": [{"name": "proxies", "configMap": {"name": "toxiproxy-proxies"}}]}
    return [_config_map(plan, "toxiproxy-proxies", {"proxies.json": json.dumps(proxies, indent=2) + "\n"}),
            _deployment(plan, TOXIPROXY_SERVICE, pod, ours=True),
            _service(plan, TOXIPROXY_SERVICE, ports, ours=True)]


def _envoy(topology: Topology, plan: _Plan, image: str) -> list[dict[str, Any]]:
    listeners = [EdgeListener(e, port, (plan.host(plan.names[topology.edges[e].callee]),
                                        topology.services[topology.edges[e].callee].container_port))
                 for e, port in sorted(plan.engine_ports.items())]
    routes_dir = Path(ENVOY_DIR) / "routes"  # inside the container
    config = bootstrap(listeners, admin_port=ENVOY_ADMIN_PORT, routes_dir=routes_dir, listen_host="0.0.0.0",
                       admin_host="0.0.0.0")
    routes = {f"{e.slug}.json": json.dumps(route_config(e, version=1), indent=2, sort_keys=True) + "\n" for e in listeners}
    argv = envoy_command("/usr/local/bin/envoy", f"{ENVOY_DIR}/bootstrap/envoy.json", ENVOY_ADMIN_PORT)
    ports = [("admin", ENVOY_ADMIN_PORT)] + [(plan.port_names[e.edge], e.listen_port) for e in listeners]
    # One ConfigMap volume per edge, mounted where the bootstrap watches that edge's routes: a
    # ConfigMap update swaps the `..data` link in the mount's root, which is the move Envoy's
    # watched directory reacts to (a subPath mount would never see an update).
    volumes = [{"name": "bootstrap", "configMap": {"name": "envoy-bootstrap"}}]
    mounts = [{"name": "bootstrap", "mountPath": f"{ENVOY_DIR}/bootstrap", "readOnly": True}]
    for e in listeners:
        volume = f"routes-{plan.port_names[e.edge]}"
        volumes.append({"name": volume, "configMap": {"name": "envoy-routes",
                                                      "items": [{"key": f"{e.slug}.json", "path": "routes.json"}]}})
        mounts.append({"name": volume, "mountPath": str(routes_dir / e.slug), "readOnly": True})
    container = {
        "name": ENVOY_SERVICE, "image": image, "command": argv[:1], "args": argv[1:],
        "ports": [{"name": n, "containerPort": p} for n, p in ports],
        "readinessProbe": {"httpGet": {"path": "/ready", "port": ENVOY_ADMIN_PORT}, "periodSeconds": 2},
        "securityContext": _HARDENED, "volumeMounts": mounts,
    }
    pod = {"securityContext": _NOBODY, "containers": [container], "volumes": volumes}
    return [_config_map(plan, "envoy-bootstrap", {"envoy.json": json.dumps(config, indent=2, sort_keys=True) + "\n"}),
            _config_map(plan, "envoy-routes", routes),
            _deployment(plan, ENVOY_SERVICE, pod, ours=True),
            _service(plan, ENVOY_SERVICE, ports, ours=True)]


def _edges_patch(topology: Topology, plan: _Plan) -> list[dict[str, Any]]:
    patches = []
    for caller in sorted({e.caller for e in topology.edges.values()}):
        name = plan.names[caller]
        env = [{"name": e.env, "value": e.address(plan.host(TOXIPROXY_SERVICE), plan.proxy_ports[e.name])}
               for e in sorted(topology.edges_from(caller), key=lambda e: e.env)]
        patches.append({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": plan.meta(name),
                        "spec": {"template": {"spec": {"containers": [{"name": name, "env": env}]}}}})
    return patches


def _config_sources(topology: Topology, plan: _Plan, inputs: K8sInputs) -> list[dict[str, Any]]:
    files = {n: s for n, s in sorted(topology.config_sources.items()) if s.kind == "file"}
    names = unique_labels([f"cascade-config-{n}" for n in files])
    docs = []
    for source, spec in files.items():
        key = re.sub(r"[^-._a-zA-Z0-9]", "-", PurePosixPath(spec.path).name) or "config"
        data = inputs.files.get(source, b"")
        try:
            text, binary = {key: data.decode("utf-8")}, {}
        except UnicodeDecodeError:  # a ConfigMap's data is UTF-8 text; other bytes go in binaryData
            text, binary = {}, {key: base64.b64encode(data).decode()}
        where = mounted_at(topology, spec, inputs)
        mount = "; ".join(f"{plan.names[c]}: {where[c]}" if c in where else
                          f"{plan.names[c]}: unknown (set container_path in [config.{source}])" for c in spec.consumers)
        docs.append(_config_map(plan, names[f"cascade-config-{source}"], text, binary=binary, annotations={
            "cascade/config-source": source, "cascade/consumers": ",".join(plan.names[c] for c in spec.consumers),
            "cascade/mount": mount}))
    return docs


def k8s_manifests(topology: Topology, inputs: K8sInputs | None = None, *, namespace: str | None = None,
                  images: Mapping[str, str] | None = None, envoy: bool = True, toxiproxy_image: str = TOXIPROXY_IMAGE,
                  envoy_image: str = ENVOY_IMAGE) -> dict[str, list[dict[str, Any]]]:
    """File name (relative to the output folder) -> its manifests, for `topology` (pure; check_options first).

    `namespace`: default the topology's name as a label; `images`: service -> image, over the
    compose file's; `envoy`: the HTTP engine on HTTP edges (False: CASCADE_HTTP_ENGINE=off).
    """
    inputs = inputs or K8sInputs()
    images = dict(images or {})
    check_options(topology, namespace, images)
    plan = _plan(topology, namespace, envoy)
    files = _base(topology, plan, inputs, images)
    overlay = ["base", "toxiproxy.yaml"]
    files["toxiproxy.yaml"] = _toxiproxy(topology, plan, toxiproxy_image)
    if plan.engine_ports:
        files["envoy.yaml"] = _envoy(topology, plan, envoy_image)
        overlay.append("envoy.yaml")
    sources = _config_sources(topology, plan, inputs)
    if sources:
        files["config-sources.yaml"] = sources
        overlay.append("config-sources.yaml")
    kustomization: dict[str, Any] = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization",
                                     "namespace": plan.ns, "resources": overlay}
    if topology.edges:
        files["edges-patch.yaml"] = _edges_patch(topology, plan)
        # patchesStrategicMerge (deprecated, never removed from v1beta1) takes a file of several
        # patches in every kustomize; `patches:` takes one patch per file in those before v5.
        kustomization["patchesStrategicMerge"] = ["edges-patch.yaml"]
    files["kustomization.yaml"] = [kustomization]
    return dict(sorted(files.items()))
