"""`cascade render k8s`: the manifests' structure for the bundled mesh and the shop, their names, and bad input (pure).

Nothing here talks to a cluster: the checks read the rendered documents back and hold them to
what a cluster would need (every Deployment selected by a Service, every edge one Toxiproxy
port whose proxy forwards to the right Service and port, each caller's variables pointing at
its edges' ports, valid names) and to what Cascade promises (same input, same bytes).
"""

from __future__ import annotations

import json
import re
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml

from harness.cli import main
from harness.errors import UsageError
from harness.render.k8s import k8s_manifests, render_files
from harness.render.k8s_inputs import K8sInputs, interpolate, read_inputs
from harness.render.names import is_dns_label, is_port_name, port_names, unique_labels
from harness.topology import Topology, load_topology

ROOT = Path(__file__).resolve().parents[2]
TOPOLOGIES = {"bundled": ROOT / "services" / "topology.toml", "shop": ROOT / "examples" / "shop" / "topology.toml"}
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


@pytest.fixture(autouse=True)
def _engine_on(monkeypatch):
    monkeypatch.delenv("CASCADE_HTTP_ENGINE", raising=False)
    monkeypatch.delenv("CASCADE_TOXIPROXY_IMAGE", raising=False)
    monkeypatch.delenv("CASCADE_ENVOY_IMAGE", raising=False)


def render(path: Path, **kw: Any) -> tuple[Topology, dict[str, list[dict[str, Any]]]]:
    topology = load_topology(path)
    return topology, k8s_manifests(topology, read_inputs(topology), **kw)


def deployments(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """Every Deployment that is a resource (not a patch)."""
    return {d["metadata"]["name"]: d for name, docs in manifests.items() if name != "edges-patch.yaml"
            for d in docs if d["kind"] == "Deployment"}


def services(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for docs in manifests.values() for d in docs if d["kind"] == "Service"}


def config_map(manifests: dict[str, list[dict[str, Any]]], name: str) -> dict[str, Any]:
    return next(d for docs in manifests.values() for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name)


def proxies(manifests: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    return {p["name"]: p for p in json.loads(config_map(manifests, "toxiproxy-proxies")["data"]["proxies.json"])}


def port_of(listen_or_upstream: str) -> int:
    return int(listen_or_upstream.rsplit(":", 1)[1])


@pytest.mark.parametrize("which", sorted(TOPOLOGIES))
def test_every_deployment_has_a_service_selecting_its_pods_on_its_container_ports(which):
    _, m = render(TOPOLOGIES[which])
    svcs = services(m)
    for name, dep in deployments(m).items():
        assert name in svcs, f"Deployment {name} has no Service"
        svc = svcs[name]
        selector = svc["spec"]["selector"]
        labels = dep["spec"]["template"]["metadata"]["labels"]
        assert selector == dep["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items(), f"Service {name} does not select Deployment {name}'s pods"
        assert svc["metadata"]["namespace"] == dep["metadata"]["namespace"]
        container_ports = {p["containerPort"] for c in dep["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
        assert {p["targetPort"] for p in svc["spec"]["ports"]} <= container_ports
    for name, svc in svcs.items():  # and no Service selects the pods of another Deployment
        others = [d for n, d in deployments(m).items() if n != name
                  and svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert not others, f"Service {name} also selects {[d['metadata']['name'] for d in others]}"


@pytest.mark.parametrize("which", sorted(TOPOLOGIES))
def test_every_edge_has_one_toxiproxy_port_and_its_proxy_forwards_to_the_callees_service(which):
    topology, m = render(TOPOLOGIES[which])
    ns = m["kustomization.yaml"][0]["namespace"]
    svcs = services(m)
    tp_ports = [p for p in svcs["toxiproxy"]["spec"]["ports"] if p["name"] != "api"]
    found = proxies(m)
    assert sorted(found) == sorted(topology.edges)  # one proxy per edge, named as the edge
    assert len(tp_ports) == len(topology.edges) == len({p["port"] for p in tp_ports})
    assert sorted(port_of(p["listen"]) for p in found.values()) == sorted(p["port"] for p in tp_ports)
    tp_container = deployments(m)["toxiproxy"]["spec"]["template"]["spec"]["containers"][0]
    assert {p["containerPort"] for p in tp_container["ports"]} >= {p["port"] for p in tp_ports}
    assert "-config=/etc/cascade/toxiproxy/proxies.json" in tp_container["args"]
    envoy = json.loads(config_map(m, "envoy-bootstrap")["data"]["envoy.json"]) if "envoy.yaml" in m else {}
    clusters = {c["name"]: c for c in envoy.get("static_resources", {}).get("clusters", [])}
    listeners = {ln["address"]["socket_address"]["port_value"]: ln["name"]
                 for ln in envoy.get("static_resources", {}).get("listeners", [])}
    for name, proxy in found.items():
        edge = topology.edges[name]
        callee = topology.services[edge.callee]
        callee_svc = svcs[edge.callee.replace("_", "-")]
        want = f"{callee_svc['metadata']['name']}.{ns}.svc"
        assert callee.container_port in {p["port"] for p in callee_svc["spec"]["ports"]}
        if edge.is_http:  # through the HTTP engine: Envoy's listener of this edge forwards to the callee
            host, port = proxy["upstream"].rsplit(":", 1)
            assert host == f"envoy.{ns}.svc" and int(port) in {p["port"] for p in svcs["envoy"]["spec"]["ports"]}
            addr = clusters[listeners[int(port)]]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            assert addr["address"]["socket_address"] == {"address": want, "port_value": callee.container_port}
        else:
            assert proxy["upstream"] == f"{want}:{callee.container_port}"
        assert proxy["enabled"] is True and proxy["listen"].startswith("0.0.0.0:")


@pytest.mark.parametrize("which", sorted(TOPOLOGIES))
def test_each_callers_patch_sets_exactly_its_edges_variables_to_its_toxiproxy_ports(which):
    topology, m = render(TOPOLOGIES[which])
    ns = m["kustomization.yaml"][0]["namespace"]
    tp_ports = {p["port"] for p in services(m)["toxiproxy"]["spec"]["ports"]}
    listen = {name: port_of(p["listen"]) for name, p in proxies(m).items()}
    patches = {d["metadata"]["name"]: d for d in m["edges-patch.yaml"]}
    callers = {e.caller for e in topology.edges.values()}
    assert sorted(patches) == sorted(c.replace("_", "-") for c in callers)
    for caller in callers:
        patch = patches[caller.replace("_", "-")]
        assert patch["kind"] == "Deployment" and patch["metadata"]["namespace"] == ns
        (container,) = patch["spec"]["template"]["spec"]["containers"]
        assert container["name"] == caller.replace("_", "-")
        env = {v["name"]: v["value"] for v in container["env"]}
        mine = topology.edges_from(caller)
        assert sorted(env) == sorted(e.env for e in mine), f"{caller}'s patch sets other variables"
        for edge in mine:
            assert env[edge.env] == edge.address(f"toxiproxy.{ns}.svc", listen[edge.name])
            assert listen[edge.name] in tp_ports


@pytest.mark.parametrize("which", sorted(TOPOLOGIES))
def test_every_name_is_valid_for_kubernetes(which):
    _, m = render(TOPOLOGIES[which])
    for file, docs in m.items():
        for doc in docs:
            meta = doc.get("metadata", {})
            if "name" in meta:
                assert is_dns_label(meta["name"]), (file, meta["name"])
                assert DNS_1123.match(meta.get("namespace", "x")), (file, meta)
            spec = doc.get("spec", {})
            pod = spec.get("template", {}).get("spec", {})
            for c in pod.get("containers", []):
                assert is_dns_label(c["name"]), (file, c["name"])
                names = [p["name"] for p in c.get("ports", [])]
                assert all(is_port_name(n) and len(n) <= 15 for n in names), (file, names)
                assert len(set(names)) == len(names)
                assert {m_["name"] for m_ in c.get("volumeMounts", [])} <= {v["name"] for v in pod.get("volumes", [])}
            for v in pod.get("volumes", []):
                assert is_dns_label(v["name"]), (file, v["name"])
            if doc.get("kind") == "Service":
                names = [p["name"] for p in spec["ports"]]
                assert all(is_port_name(n) for n in names) and len(set(names)) == len(names), (file, names)
            for key in doc.get("data", {}) | doc.get("binaryData", {}):
                assert re.fullmatch(r"[-._a-zA-Z0-9]+", key), (file, key)


@pytest.mark.parametrize("which", sorted(TOPOLOGIES))
def test_the_kustomizations_list_every_file_written(which):
    _, m = render(TOPOLOGIES[which])

    def listed(folder: PurePosixPath) -> set[str]:
        k = m[str(folder / "kustomization.yaml").removeprefix("./")][0]
        out = {str(folder / "kustomization.yaml").removeprefix("./")}
        for entry in [*k.get("resources", []), *k.get("patchesStrategicMerge", [])]:
            path = str(folder / entry).removeprefix("./")
            out |= listed(PurePosixPath(path)) if f"{path}/kustomization.yaml" in m else {path}
        return out

    assert listed(PurePosixPath(".")) == set(m)


@pytest.mark.parametrize("which", sorted(TOPOLOGIES))
def test_the_envoy_routes_are_mounted_where_the_bootstrap_watches_them(which):
    _, m = render(TOPOLOGIES[which])
    boot = json.loads(config_map(m, "envoy-bootstrap")["data"]["envoy.json"])
    routes = config_map(m, "envoy-routes")["data"]
    pod = deployments(m)["envoy"]["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {mt["mountPath"]: volumes[mt["name"]] for mt in pod["containers"][0]["volumeMounts"]}
    for listener in boot["static_resources"]["listeners"]:
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        source = hcm["rds"]["config_source"]["path_config_source"]
        watched = source["watched_directory"]["path"]
        (item,) = mounts[watched]["configMap"]["items"]  # the mount's root is the watched directory
        assert source["path"] == f"{watched}/{item['path']}"
        assert json.loads(routes[item["key"]])["resources"][0]["name"] == hcm["rds"]["route_config_name"]
    assert pod["containers"][0]["args"][:2] == ["-c", "/etc/cascade/envoy/bootstrap/envoy.json"]
    assert "/etc/cascade/envoy/bootstrap" in mounts


def test_without_the_http_engine_every_proxy_forwards_to_its_callee():
    topology, m = render(TOPOLOGIES["bundled"], envoy=False)
    assert "envoy.yaml" not in m and "envoy.yaml" not in m["kustomization.yaml"][0]["resources"]
    assert all(".chirp.svc:" in p["upstream"] and not p["upstream"].startswith("envoy.") for p in proxies(m).values())


def test_the_base_takes_the_compose_files_images_and_wires_edges_straight_to_callees():
    topology, m = render(TOPOLOGIES["bundled"])
    gateway = deployments(m)["gateway"]["spec"]["template"]["spec"]["containers"][0]
    env = {v["name"]: v["value"] for v in gateway["env"]}
    assert gateway["image"] == "cascade/python:dev"  # ${CASCADE_PYTHON_IMAGE:-cascade/python:dev}, at its default
    assert gateway["args"] == ["python", "-m", "services.gateway"]
    assert env["AUTH_URL"] == "http://auth:8000" and env["REDIS_URL"] == "redis://redis:6379/0"
    assert env["HOST"] == "0.0.0.0"  # the compose file's own environment
    redis = deployments(m)["redis"]["spec"]["template"]["spec"]["containers"][0]
    assert redis["readinessProbe"]["tcpSocket"] == {"port": 6379}
    _, shop = render(TOPOLOGIES["shop"], images={"orders": "registry.example/orders:7"})
    assert deployments(shop)["orders"]["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/orders:7"
    pricing = config_map(shop, "cascade-config-pricing")
    assert pricing["metadata"]["annotations"]["cascade/mount"] == "pricing: /srv/shop/config/pricing.json"
    assert json.loads(pricing["data"]["pricing.json"])["markup_percent"] == 10


def test_a_topology_without_a_compose_file_gets_placeholder_images_said_so(tmp_path):
    (tmp_path / "t.toml").write_text('[mesh]\nname = "Mini_Mesh"\n[services.api_v2]\n[services.db]\nhealth = "tcp"\n'
                                     'container_port = 5432\n[edges."api_v2->db"]\nenv = "DB_ADDR"\nurl = "{host}:{port}"\n')
    topology, m = render(tmp_path / "t.toml")
    api = deployments(m)["api-v2"]
    assert api["spec"]["template"]["spec"]["containers"][0]["image"].startswith("placeholder.invalid/")
    assert "--image api_v2=IMAGE" in api["metadata"]["annotations"]["cascade/image"]
    assert m["kustomization.yaml"][0]["namespace"] == "mini-mesh"
    assert m["edges-patch.yaml"][0]["spec"]["template"]["spec"]["containers"][0]["env"] == [
        {"name": "DB_ADDR", "value": "toxiproxy.mini-mesh.svc:10000"}]


@pytest.mark.parametrize("which", sorted(TOPOLOGIES))
def test_two_renders_are_byte_identical(which):
    topology = load_topology(TOPOLOGIES[which])
    first = render_files(k8s_manifests(topology, read_inputs(topology)), topology.name)
    second = render_files(k8s_manifests(load_topology(TOPOLOGIES[which]), read_inputs(topology)), topology.name)
    assert first == second
    for name, text in first.items():  # and each file reads back as what was rendered
        assert [d for d in yaml.safe_load_all(text)] == k8s_manifests(topology, read_inputs(topology))[name]


@pytest.mark.parametrize("kw, match", [
    ({"images": {"gatewy": "x:1"}}, r"--image gatewy=x:1: unknown service 'gatewy'; services are: auth, config"),
    ({"images": {"gateway": "has space"}}, r"--image gateway='has space': give an image reference"),
    ({"namespace": "Bad_NS"}, r"--namespace 'Bad_NS' is not a Kubernetes namespace name.*e\.g\. --namespace bad-ns"),
    ({"namespace": "-x"}, r"--namespace '-x'"),
    ({"namespace": "a" * 64}, r"at most 63"),
])
def test_bad_options_are_refused_naming_the_value_and_the_fix(kw, match):
    topology = load_topology(TOPOLOGIES["bundled"])
    with pytest.raises(UsageError, match=match):
        k8s_manifests(topology, K8sInputs(), **kw)


def test_a_service_named_like_cascades_own_deployment_is_refused():
    topology = Topology.from_dict({"services": {"toxiproxy": {}, "app": {}},
                                   "edges": {"app->toxiproxy": {"env": "T_URL"}}})
    with pytest.raises(UsageError, match=r"services\.toxiproxy: its Kubernetes name 'toxiproxy' is Cascade's own"):
        k8s_manifests(topology)


def test_an_unreadable_config_file_is_named(tmp_path):
    (tmp_path / "t.toml").write_text('[services.app]\n[config.rules]\nkind = "file"\nconsumers = ["app"]\n'
                                     'path = "rules.json"\n')
    with pytest.raises(UsageError, match=r"config\.rules\.path: cannot read .*rules\.json"):
        read_inputs(load_topology(tmp_path / "t.toml"))


def test_names_are_valid_unique_and_stable():
    assert unique_labels(["a_b", "a-b", "auth", "Auth"]) == {
        "a-b": "a-b", "auth": "auth", "Auth": unique_labels(["Auth", "auth"])["Auth"],
        "a_b": unique_labels(["a_b", "a-b"])["a_b"]}
    assert unique_labels(["a_b", "a-b"])["a_b"].startswith("a-b-")
    long = unique_labels(["x" * 80])["x" * 80]
    assert is_dns_label(long) and len(long) == 63
    edges = {f"{a}->{b}": (a, b) for a, b in [("gateway", "timeline"), ("gateway", "timelines"),
                                              ("deck", "gateway"), ("a" * 30, "b" * 30), ("a" * 30, "b" * 31)]}
    names = port_names(edges)
    assert names["deck->gateway"] == "deck-to-gateway" and names["gateway->timeline"] == "gateway-timelin"
    assert names["gateway->timelines"].startswith("e-")  # its short name was taken: a hash instead
    assert len(set(names.values())) == len(names) and all(is_port_name(n) for n in names.values())
    assert port_names(dict(reversed(list(edges.items())))) == names  # order of the input does not matter


def test_compose_variables_are_taken_at_their_defaults():
    assert interpolate("${IMG:-cascade/python:dev}") == ("cascade/python:dev", True)
    assert interpolate("a$$b ${X-y} ${Z:+w}") == ("a$b y ", True)
    assert interpolate("${TOKEN}") == ("${TOKEN}", False)


def test_the_cli_writes_the_files_and_writes_nothing_on_bad_input(tmp_path, capsys):
    out = tmp_path / "k8s"
    assert main(["render", "k8s", "--topology", str(TOPOLOGIES["shop"]), "--out", str(out)]) == 0
    topology = load_topology(TOPOLOGIES["shop"])
    want = render_files(k8s_manifests(topology, read_inputs(topology)), topology.name)
    written = {str(p.relative_to(out)): p.read_text() for p in out.rglob("*") if p.is_file()}
    assert written == want
    said = capsys.readouterr().out
    assert "namespace 'shop'" in said and "kubectl apply -k" in said
    again = tmp_path / "again"
    assert main(["render", "k8s", "--topology", str(TOPOLOGIES["shop"]), "--out", str(again)]) == 0
    assert {p.name: p.read_bytes() for p in again.rglob("*.yaml")} == {p.name: p.read_bytes() for p in out.rglob("*.yaml")}
    capsys.readouterr()
    bad = tmp_path / "bad"
    for argv, named in [(["--image", "nope=x:1"], "'nope'"), (["--namespace", "Shop"], "'Shop'"),
                        (["--image", "orders"], "SERVICE=IMAGE")]:
        assert main(["render", "k8s", "--topology", str(TOPOLOGIES["shop"]), "--out", str(bad), *argv]) == 2
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and named in error and error.startswith("cascade: error: ")
    assert not bad.exists()


def test_the_docs_excerpt_is_what_the_bundled_mesh_renders_and_the_readme_links_the_page():
    page = (ROOT / "docs" / "kubernetes.md").read_text()
    _, m = render(TOPOLOGIES["bundled"])
    timeline = next(d for d in m["edges-patch.yaml"] if d["metadata"]["name"] == "timeline")
    env = {v["name"]: v["value"] for v in timeline["spec"]["template"]["spec"]["containers"][0]["env"]}
    shown = dict(re.findall(r"- name: (\w+)\n\s+value: (\S+)", page))
    assert shown and shown == env
    for edge, upstream in re.findall(r'proxy "([^"]+)": upstream (\S+)', page):
        assert proxies(m)[edge]["upstream"] == upstream
    assert "docs/kubernetes.md" in (ROOT / "README.md").read_text()


def test_services_named_like_bases_own_files_get_files_of_their_own():
    topology = Topology.from_dict({"services": {"kustomization": {}, "kustomization-2": {}, "namespace": {}}})
    m = k8s_manifests(topology)
    assert {f for f in m if f.startswith("base/")} == {
        "base/kustomization.yaml", "base/namespace.yaml", "base/kustomization-2.yaml", "base/kustomization-2-2.yaml",
        "base/namespace-2.yaml"}
    assert m["base/kustomization.yaml"][0]["kind"] == "Kustomization"
