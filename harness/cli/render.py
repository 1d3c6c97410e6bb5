"""`cascade render k8s [--topology P] [--out DIR] [--namespace NS] [--image SERVICE=IMAGE ...]`: a topology as Kubernetes manifests."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

__all__ = ["register", "run_k8s"]

EXAMPLES = """examples:
  cascade render k8s                                     the bundled mesh into k8s/, namespace chirp
  cascade render k8s --topology examples/shop/topology.toml --out deploy/k8s --namespace shop-chaos
  cascade render k8s --image gateway=registry.example/chirp:1.4 --image auth=registry.example/chirp:1.4

Then: kubectl apply -k k8s/  (what maps onto a cluster and what does not: docs/kubernetes.md)
"""


def _images(pairs: list[str]) -> dict[str, str]:
    from ..errors import UsageError

    images: dict[str, str] = {}
    for pair in pairs:
        service, sep, image = pair.partition("=")
        if not sep or not service:
            raise UsageError(f"--image {pair!r}: write SERVICE=IMAGE, e.g. --image gateway=registry/gateway:1.0")
        if service in images and images[service] != image:
            raise UsageError(f"--image {service}=...: given twice ({images[service]!r} and {image!r}); keep one")
        images[service] = image
    return images


def run_k8s(args: argparse.Namespace) -> int:
    from ..clients.envoy import engine_disabled
    from ..errors import UsageError
    from ..render.k8s import check_options, k8s_manifests, render_files
    from ..render.k8s_inputs import read_inputs
    from ..runtime.compose_plan import ENVOY_IMAGE, TOXIPROXY_IMAGE
    from ..topology import load_topology

    # Every input is checked, and every file rendered, before the first one is written.
    images = _images(args.image or [])
    topology = load_topology(args.topology)
    check_options(topology, args.namespace, images)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a folder; give a folder (it is created if missing)")
    manifests = k8s_manifests(topology, read_inputs(topology), namespace=args.namespace, images=images,
                              envoy=not engine_disabled(),
                              toxiproxy_image=args.toxiproxy_image or os.environ.get("CASCADE_TOXIPROXY_IMAGE", TOXIPROXY_IMAGE),
                              envoy_image=args.envoy_image or os.environ.get("CASCADE_ENVOY_IMAGE", ENVOY_IMAGE))
    texts = render_files(manifests, topology.name)
    for name, text in texts.items():
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    namespace = manifests["kustomization.yaml"][0]["namespace"]
    print(f"wrote {len(texts)} files to {out}/ for topology {topology.name!r}, namespace {namespace!r}:")
    print("  " + " ".join(texts))
    for name, docs in manifests.items():
        for doc in docs:
            note = doc.get("metadata", {}).get("annotations", {}).get("cascade/image")
            if doc.get("kind") == "Deployment" and note:
                print(f"  {name}: its image is a {note}")
    stale = sorted(str(p.relative_to(out)) for p in [*out.glob("*.yaml"), *out.glob("base/*.yaml")]
                   if str(p.relative_to(out)) not in texts)
    if stale:
        print(f"  left alone (not written by this render, not in its kustomizations): {' '.join(stale)}")
    if "envoy.yaml" not in texts and any(e.is_http for e in topology.edges.values()):
        print("  no envoy.yaml: CASCADE_HTTP_ENGINE is off, so HTTP edges get TCP faults only")
    print(f"apply: kubectl apply -k {out}/   (what maps onto a cluster and what does not: docs/kubernetes.md)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("render", help="write a topology out for another platform (k8s: Kubernetes manifests)",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    targets = r.add_subparsers(dest="target", metavar="TARGET")
    targets.required = True
    k = targets.add_parser("k8s", help="Deployments and Services, Toxiproxy on every edge, Envoy on HTTP edges "
                                       "(kustomize)", epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    k.add_argument("--topology", default="services/topology.toml", metavar="PATH",
                   help="topology TOML (default: services/topology.toml)")
    k.add_argument("--out", default="k8s", metavar="DIR", help="folder to write into (default: k8s/); "
                   "files it writes are replaced, others left alone")
    k.add_argument("--namespace", metavar="NS", help="namespace of every object (default: the topology's name)")
    k.add_argument("--image", action="append", metavar="SERVICE=IMAGE",
                   help="a service's image, over the compose file's (repeatable); without either, a placeholder")
    k.add_argument("--toxiproxy-image", metavar="IMAGE",
                   help="Toxiproxy's image (default: $CASCADE_TOXIPROXY_IMAGE, else the compose runtime's)")
    k.add_argument("--envoy-image", metavar="IMAGE", help="Envoy's image (default: $CASCADE_ENVOY_IMAGE, else the "
                   "compose runtime's); CASCADE_HTTP_ENGINE=off renders no Envoy")
    k.set_defaults(func=run_k8s)
