"""A small service of the kind teams write (app.py), and the folder that makes it a system Cascade runs.

    system(root, config)   root/app.py, root/conf/settings.json, root/topology.toml declaring `config`

Used by tests/integration/test_config_sources.py and bench/bench_config.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["APP", "SETTINGS", "system"]

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
