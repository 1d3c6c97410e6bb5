"""Config sources against real consumers: a file re-read by a service, nginx reloading on SIGHUP, a variable.

Each test copies the consumer (tests/integration/configapp/app.py, a service of the kind teams
write, not Cascade-aware) and its settings into a fresh folder, declares a [config.X] table,
pushes through BadConfig, and checks the push was applied (or rejected), its effect on a journey,
and that the file is back byte for byte afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

from harness import Chaos
from harness.faults import BadConfig
from harness.mesh import Mesh
from harness.topology import load_topology

from .configapp import ETCD_SERVICE, SETTINGS, nginx_system, system

pytestmark = pytest.mark.integration

QUOTE_FILE = """
[config.quote]
kind = "file"
consumers = ["quote"]
path = "conf/settings.json"
"""  # the consumer's settings file as a config source; each test adds its reload and applied


def folder(tmp_path: Path, config: str, *, env: str = "", extra: str = "") -> Path:
    """The consumer's system in tmp_path/system, its settings readable by owner and group only (mode kept by writes)."""
    topology = system(tmp_path / "system", config, env=env, extra=extra)
    os.chmod(topology.parent / "conf" / "settings.json", 0o640)
    return topology


@contextlib.contextmanager
def chaos_of(mesh: Mesh):
    chaos = Chaos(mesh, observe=False)
    try:
        yield chaos
    finally:
        chaos.close()


def quote(mesh: Mesh) -> tuple[int | None, dict]:
    r = mesh.request("quote", "GET", "/quote")
    return r.status, (json.loads(r.body) if r.status else {})


@pytest.mark.parametrize("applied", [
    'applied = { http = "GET /applied", within_ms = 3000 }',
    'applied = { log = "^applied config", rejected = "^rejected config", within_ms = 3000 }',
])
def test_a_watched_file_push_is_observed_applied_its_effect_seen_and_the_file_restored_byte_for_byte(tmp_path, applied):
    topo = load_topology(folder(tmp_path, QUOTE_FILE + f'''{applied}
'''))
    path = topo.root / "conf" / "settings.json"
    mode = stat.S_IMODE(path.stat().st_mode)
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        with chaos.inject(BadConfig.out_of_range("price_cents", 900, source="quote")):
            source = mesh.config("quote")
            assert source.last_applied.running == ("quote",) and source.last_applied.evidence == "observed"
            assert quote(mesh) == (200, {"plan": "pro", "price": 900})  # applied when the push returned
            assert json.loads(path.read_bytes()) == {"price_cents": 900, "currency": "EUR"}
            assert path.read_bytes().startswith(b"{\n  ")  # written back in the file's own layout
        assert path.read_bytes() == SETTINGS and stat.S_IMODE(path.stat().st_mode) == mode
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        assert not list(path.parent.glob(".*cascade-tmp"))


def test_a_rejected_push_is_a_result_not_an_error_and_the_consumer_keeps_its_last_good_config(tmp_path):
    topo = load_topology(folder(tmp_path, QUOTE_FILE + '''applied = { http = "GET /applied", within_ms = 1500 }
'''))
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        with chaos.inject(BadConfig.out_of_range("price_cents", 0, source="quote")):
            assert mesh.config("quote").last_applied.rejected == ("quote",)
            assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        with chaos.inject(BadConfig(raw="{not json", source="quote")):
            assert mesh.config("quote").last_applied.rejected == ("quote",)
            assert quote(mesh)[0] == 200
        assert (topo.root / "conf" / "settings.json").read_bytes() == SETTINGS


@pytest.mark.parametrize("reload, env", [("http:POST /reload", ', WATCH = "0"'), ("signal:HUP", ', WATCH = "0"'),
                                         ("restart", ', WATCH = "0"')])
def test_each_reload_style_makes_a_consumer_that_does_not_watch_apply_the_push(tmp_path, reload, env):
    applied = "" if reload == "restart" else 'applied = { log = "^applied config", within_ms = 3000 }'
    topo = load_topology(folder(tmp_path, QUOTE_FILE + f'''reload = "{reload}"
{applied}
''', env=env))
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        with chaos.inject(BadConfig.out_of_range("price_cents", 700, source="quote")):
            assert mesh.config("quote").last_applied.running == ("quote",)
            assert quote(mesh) == (200, {"plan": "pro", "price": 700})
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})


def test_within_ms_alone_waits_and_says_it_did_not_observe(tmp_path):
    topo = load_topology(folder(tmp_path, QUOTE_FILE + '''applied = { within_ms = 600 }
'''))
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        with chaos.inject(BadConfig.out_of_range("price_cents", 300, source="quote")):
            a = mesh.config("quote").last_applied
            assert a.evidence == "waited" and "within_ms = 600" in a.unknown["quote"]
            assert quote(mesh) == (200, {"plan": "pro", "price": 300})


def test_an_env_push_restarts_the_service_with_the_new_value_and_the_revert_brings_the_old_one_back(tmp_path):
    topo = load_topology(folder(tmp_path, '''
[config.quote_env]
kind = "env"
consumers = ["quote"]
var = "PLAN"
''', env=', PLAN = "pro"'))
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        with chaos.inject(BadConfig(patch={"PLAN": "free"}, source="quote_env")):
            assert mesh.config("quote_env").last_applied.running == ("quote",)
            assert quote(mesh) == (402, {"error": "plan 'free' does not include quotes"})
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        assert mesh.config("quote_env").current().document == {"PLAN": "pro"}


@pytest.mark.skipif(not shutil.which("nginx", path="/usr/sbin:/usr/bin"), reason="nginx is installed by scripts/bootstrap")
def test_nginx_reloads_on_sighup_applies_a_good_site_config_and_keeps_its_old_one_when_the_new_one_is_invalid(tmp_path):
    good = b'location = /plan { return 200 "pro\\n"; }\n'
    root = tmp_path / "front"
    nginx_system(root, shutil.which("nginx", path="/usr/sbin:/usr/bin"), good)
    topo = load_topology(root / "topology.toml")
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        assert mesh.request("front", "GET", "/plan").body == b"pro\n"
        with chaos.inject(BadConfig(raw='location = /plan { return 200 "free\\n"; }\n', source="site")):
            assert mesh.config("site").last_applied.running == ("front",)
            assert mesh.request("front", "GET", "/plan").body == b"free\n"
        assert mesh.request("front", "GET", "/plan").body == b"pro\n"  # the revert reloaded too
        with chaos.inject(BadConfig(raw="location = /plan { retrun 200; }\n", source="site")):
            assert mesh.config("site").last_applied.rejected == ("front",)
            assert mesh.request("front", "GET", "/plan").body == b"pro\n"  # nginx kept its last good config
        assert (root / "nginx" / "site.conf").read_bytes() == good


RUNNER = """
import sys, time
from harness import Chaos
from harness.faults import BadConfig
from harness.mesh import Mesh
from harness.topology import load_topology

from pathlib import Path
mesh = Mesh(load_topology(sys.argv[1]), state_dir=Path(sys.argv[2])).start()
Chaos(mesh, observe=False).apply(BadConfig.out_of_range("price_cents", -5, source="quote"))
print("pushed", flush=True)
time.sleep(120)
"""


@pytest.mark.parametrize("how", ["next run", "cascade cleanup"])
def test_a_killed_runners_bad_file_is_restored_byte_for_byte_by_the_next_run_or_cleanup(tmp_path, how):
    import signal
    import subprocess
    import sys

    topology = folder(tmp_path, QUOTE_FILE + '''applied = { log = "^(applied|rejected) config", within_ms = 3000 }
''')
    path = topology.parent / "conf" / "settings.json"
    state = tmp_path / "state"
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(topology), str(state)], stdout=subprocess.PIPE,
                              text=True, cwd=Path(__file__).parents[2])
    try:
        assert runner.stdout is not None and runner.stdout.readline().strip() == "pushed", runner.communicate()
        assert json.loads(path.read_bytes())["price_cents"] == -5
    finally:
        runner.send_signal(signal.SIGKILL)
        runner.wait(timeout=10)
    assert json.loads(path.read_bytes())["price_cents"] == -5  # nothing restored it yet
    if how == "next run":
        with Mesh(load_topology(topology), state_dir=state) as mesh:
            assert any("restored" in line and str(path) in line for line in mesh.runtime.reaped), mesh.runtime.reaped
    else:
        env = {**os.environ, "CASCADE_STATE_DIR": str(state)}
        out = subprocess.run([sys.executable, "-m", "harness.cli", "cleanup"], env=env, capture_output=True, text=True,
                             timeout=60, cwd=Path(__file__).parents[2])
        assert out.returncode == 0 and f"restored {path}" in out.stdout, out.stdout + out.stderr
    assert path.read_bytes() == SETTINGS


def test_a_file_changed_by_someone_else_after_the_push_is_left_alone_by_the_reaper(tmp_path):
    from harness.config.file import reap_config_file
    from harness.config.stored import b64, sha256

    path = tmp_path / "app.json"
    path.write_bytes(b'{"theirs": 1}')
    line = reap_config_file({"kind": "config_file", "source": "app", "path": str(path), "original": b64(SETTINGS),
                             "original_sha256": sha256(SETTINGS), "pushed_sha256": sha256(b"{bad")})
    assert line is not None and "left" in line and "changed after Cascade's push" in line
    assert path.read_bytes() == b'{"theirs": 1}'


def test_the_cli_pushes_to_a_named_source_status_shows_it_and_heal_restores_the_file(tmp_path, toxiproxy_server):
    import subprocess
    import sys

    topology = folder(tmp_path, QUOTE_FILE + '''applied = { http = "GET /applied", within_ms = 3000 }
''')
    path = topology.parent / "conf" / "settings.json"
    env = {**os.environ, "CASCADE_STATE_DIR": str(tmp_path / "state"), "TOXIPROXY_SERVER": toxiproxy_server,
           "NO_COLOR": ""}

    def cascade(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "harness.cli", *args], env=env, capture_output=True, text=True,
                              timeout=120, cwd=topology.parent)

    try:
        assert cascade("up", "--topology", str(topology)).returncode == 0
        r = cascade("inject", "config:quote", "bad_config", "path=price_cents", "value=900")
        assert r.returncode == 0, r.stderr
        assert "applied BadConfig(patch to quote: set price_cents=900)" in r.stdout
        assert json.loads(path.read_bytes())["price_cents"] == 900
        st = json.loads(cascade("status", "--json").stdout)
        (src,) = st["config_sources"]
        assert (src["name"], src["kind"], src["where"], src["version"]) == ("quote", "file", "conf/settings.json", 2)
        assert src["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()[:12]
        assert src["pushed"] == ["BadConfig(patch to quote: set price_cents=900)"]
        assert "config sources" in cascade("status").stdout
        r = cascade("heal", "config:quote")
        assert r.returncode == 0 and "reverted BadConfig(patch to quote" in r.stdout, r.stdout + r.stderr
        assert path.read_bytes() == SETTINGS
        r = cascade("inject", "config:nope", "bad_config", "raw=x")
        assert r.returncode == 2 and "unknown config source 'nope'; config sources are: quote" in r.stderr, r.stderr
    finally:
        cascade("down")


def test_an_etcd_key_push_is_applied_by_revision_rejected_when_bad_and_restored(tmp_path):
    from harness.clients.etcd import EtcdClient

    etcd = shutil.which("etcd", path="/usr/bin:/usr/local/bin")
    assert etcd, "etcd is installed by scripts/bootstrap (Debian's etcd-server)"
    topo = load_topology(folder(tmp_path, '''
[config.prices]
kind = "etcd"
consumers = ["quote"]
endpoints = "http://{etcd}"
key = "/shop/prices"
applied = { http = "GET /applied", within_ms = 3000 }
''', env=', ETCD_KEY = "/shop/prices"', extra=ETCD_SERVICE.format(etcd=etcd)))
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        client = EtcdClient("http://%s:%d" % mesh.address("etcd"))
        seeded = client.get("/shop/prices")
        assert seeded is not None and seeded.value == SETTINGS  # the consumer seeded its defaults
        assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        with chaos.inject(BadConfig.out_of_range("price_cents", 990, source="prices")):
            source = mesh.config("prices")
            assert source.last_applied.running == ("quote",)
            assert quote(mesh) == (200, {"plan": "pro", "price": 990})
            assert json.loads(client.get("/shop/prices").value)["price_cents"] == 990
        with chaos.inject(BadConfig(raw="{not json", source="prices")):
            assert mesh.config("prices").last_applied.rejected == ("quote",)
            assert quote(mesh) == (200, {"plan": "pro", "price": 250})
        back = client.get("/shop/prices")
        assert back is not None and back.value == SETTINGS
        assert mesh.config("prices").checksum() == hashlib.sha256(SETTINGS).hexdigest()


def test_an_etcd_outside_the_mesh_is_restored_by_the_reaper_unless_written_since(etcd_server):
    from harness.clients.etcd import EtcdClient
    from harness.config.etcd import reap_etcd_key
    from harness.config.stored import b64, sha256

    client = EtcdClient(etcd_server)
    client.put("/k", b"bad")
    res = {"kind": "config_etcd", "source": "flags", "endpoint": etcd_server, "key": "/k", "mesh_service": "",
           "original": b64(b"good"), "original_sha256": sha256(b"good"), "pushed_sha256": sha256(b"bad")}
    assert "restored /k" in reap_etcd_key(res)
    assert client.get("/k").value == b"good"
    client.put("/k", b"theirs")
    assert "as it is" in reap_etcd_key({**res, "pushed_sha256": sha256(b"bad")})
    assert client.get("/k").value == b"theirs"
    client.put("/k", b"bad")  # a key that was absent before the push is deleted again
    assert "restored /k" in reap_etcd_key({**res, "original": None, "original_sha256": "absent"})
    assert client.get("/k") is None
    assert reap_etcd_key({**res, "mesh_service": "etcd"}).endswith("ended with its mesh's etcd")


def test_a_push_whose_reload_fails_is_put_back_before_the_error_reaches_the_test(tmp_path):
    from harness.errors import ConfigPushError

    topo = load_topology(folder(tmp_path, QUOTE_FILE + '''reload = "http:POST /no-such-reload"
applied = { within_ms = 300 }
'''))
    path = topo.root / "conf" / "settings.json"
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        with pytest.raises(ConfigPushError, match=r"reload POST /no-such-reload on quote answered 404"):
            chaos.apply(BadConfig.out_of_range("price_cents", 5, source="quote"))
        assert path.read_bytes() == SETTINGS
        state = json.loads(next((tmp_path / "state").glob("runs/*/state.json")).read_text())
        assert not [r for r in state["resources"] if r["kind"] == "config_file"]  # nothing left to reap


def test_a_file_changed_by_someone_else_during_the_fault_is_not_overwritten_by_the_revert(tmp_path):
    from harness.errors import HarnessError

    topo = load_topology(folder(tmp_path, QUOTE_FILE + '''applied = { within_ms = 200 }
'''))
    path = topo.root / "conf" / "settings.json"
    theirs = b'{"price_cents": 333, "currency": "EUR"}\n'
    with Mesh(topo, state_dir=tmp_path / "state") as mesh, chaos_of(mesh) as chaos:
        with pytest.raises(HarnessError, match=r"changed after Cascade's push .* left as it is"):
            with chaos.inject(BadConfig.out_of_range("price_cents", 5, source="quote")):
                path.write_bytes(theirs)  # an operator fixes it by hand while the fault is on
        assert path.read_bytes() == theirs
    assert path.read_bytes() == theirs  # teardown left it too


def test_teardown_puts_back_a_push_nobody_reverted(tmp_path):
    from harness.apply import apply_fault

    topo = load_topology(folder(tmp_path, QUOTE_FILE + '''applied = { within_ms = 200 }
'''))
    path = topo.root / "conf" / "settings.json"
    with Mesh(topo, state_dir=tmp_path / "state") as mesh:
        apply_fault(mesh, BadConfig(raw="{oops", source="quote"))  # its undo is dropped on the floor
        assert path.read_bytes() == b"{oops"
    assert path.read_bytes() == SETTINGS


def test_a_config_file_reached_through_a_symlink_out_of_the_folder_is_refused_before_anything_starts(tmp_path):
    from harness.errors import InvalidTopology

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "settings.json").write_bytes(SETTINGS)
    topology = folder(tmp_path, '''
[config.quote]
kind = "file"
consumers = ["quote"]
path = "linked/settings.json"
''')
    (topology.parent / "linked").symlink_to(outside)
    mesh = Mesh(load_topology(topology), state_dir=tmp_path / "state")
    with pytest.raises(InvalidTopology, match=r"config.quote.path: 'linked/settings.json' leads to .*elsewhere/settings"
                                              r".json', outside the topology's folder .* allow_outside = true"):
        mesh.start()
    assert not (tmp_path / "state" / "runs").exists()  # nothing was started


def test_two_meshes_never_share_a_config_file_the_second_is_refused_before_it_starts(tmp_path):
    from harness.errors import UsageError

    topology = folder(tmp_path, '''
[config.quote]
kind = "file"
consumers = ["quote"]
path = "conf/settings.json"
''')
    state = tmp_path / "state"  # one machine: the meshes share the state folder, as xdist workers do
    with Mesh(load_topology(topology), state_dir=state) as first:
        second = Mesh(load_topology(topology), state_dir=state)
        with pytest.raises(UsageError, match=r"config source 'quote' \(the file .*conf/settings.json\) is in use by "
                                             r"another mesh on this machine: each would see the other's bad config"):
            second.start()
        assert len(list((state / "runs").iterdir())) == 1  # the second started nothing
        assert first.journey("quote").verdict == "full"
    with Mesh(load_topology(topology), state_dir=state) as third:  # released with the first mesh
        assert third.journey("quote").verdict == "full"
