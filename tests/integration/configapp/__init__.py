"""A small service of the kind teams write (app.py), and the folder that makes it a system Cascade runs.

    system(root, config)   root/app.py, root/conf/settings.json, root/topology.toml declaring `config`
    ETCD_SERVICE           an etcd service of the topology and the consumer's edge to it (.format(etcd=binary))
    nginx_system(root, ..) nginx serving GET /plan from a raw site.conf, reloaded on SIGHUP

Used by tests/integration/test_config_sources.py and bench/bench_config.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["APP", "ETCD_SERVICE", "NGINX_CONF", "SETTINGS", "nginx_system", "system"]

APP = Path(__file__).parent / "app.py"
SETTINGS = b'{\n  "price_cents": 250,\n  "currency": "EUR"\n}\n'


def system(root: Path, config: str, *, env: str = "", extra: str = "", name: str = "configapp") -> Path:
    """A folder with the consumer (app.py), its settings (conf/settings.json) and a topology declaring `config`.

    `env` continues the service's env table (', PLAN = "pro"'); `extra` is more TOML (an etcd
    service and its edge). Returns the topology's path.
    """
    (root / "conf").mkdir(parents=True)
    shutil.copy(APP, root / "app.py")
    (root / "conf" / "settings.json").write_bytes(SETTINGS)
    (root / "topology.toml").write_text(f'''
[mesh]
name = "{name}"

[services.quote]
command = ["{{python}}", "app.py"]
env = {{ CONFIG_FILE = "conf/settings.json"{env} }}

[journeys.quote]
service = "quote"
path = "/quote"
edges = []
budget_ms = 1000

{config}
{extra}
''')
    return root / "topology.toml"


ETCD_SERVICE = '''
[services.etcd]
command = ["{etcd}", "--name", "default", "--data-dir", "{{data}}/etcd", "--listen-client-urls", "http://{{host}}:{{port}}",
           "--advertise-client-urls", "http://{{host}}:{{port}}", "--listen-peer-urls", "http://127.0.0.1:0",
           "--initial-advertise-peer-urls", "http://127.0.0.1:0", "--initial-cluster", "default=http://127.0.0.1:0"]
health = "/health"

[edges."quote->etcd"]
env = "ETCD_URL"
'''

# nginx's own config: {data} and {root} are filled in by the service's command (sed), like $PORT.
NGINX_CONF = """daemon off;
worker_processes 1;
pid {data}/nginx.pid;
error_log stderr notice;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path {data}; proxy_temp_path {data}; fastcgi_temp_path {data};
  uwsgi_temp_path {data}; scgi_temp_path {data};
  server {
    listen 127.0.0.1:$PORT;
    location = /health { return 200 "ok\\n"; }
    include {root}/nginx/site.conf;
  }
}
"""


def nginx_system(root: Path, nginx: str, site: bytes, *, name: str = "front") -> Path:
    """nginx serving GET /plan from a raw nginx/site.conf; SIGHUP reloads it, the old worker's exit shows it applied."""
    (root / "nginx").mkdir(parents=True, exist_ok=True)
    (root / "nginx" / "site.conf").write_bytes(site)
    (root / "nginx" / "nginx.conf.in").write_text(NGINX_CONF)
    (root / "topology.toml").write_text(f'''
[mesh]
name = "{name}"

[services.front]
command = ["sh", "-c", "sed \\"s|\\\\$PORT|$PORT|; s|{{{{data}}}}|{{data}}|g; s|{{{{root}}}}|{{root}}|g\\" nginx/nginx.conf.in > {{data}}/nginx.conf && exec {nginx} -c {{data}}/nginx.conf -e stderr"]

[journeys.plan]
service = "front"
path = "/plan"
edges = []
budget_ms = 1000

[config.site]
kind = "file"
consumers = ["front"]
path = "nginx/site.conf"
format = "raw"
reload = "signal:HUP"
applied = {{ log = "worker process \\\\d+ exited", rejected = "\\\\[emerg\\\\]", within_ms = 5000 }}
''')
    return root / "topology.toml"
