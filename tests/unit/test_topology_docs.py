"""docs/topology.md against the topology parser and the local runtime: every key and placeholder has its row (pure).

The key sets are read from the parser's own "unknown field ...; allowed: ..." errors, and the
placeholders from the local runtime's PLACEHOLDERS, never copied here: a key added to (or
dropped from) harness/topology.py fails this test until the page says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InvalidTopology
from harness.runtime.local import PLACEHOLDERS
from harness.topology import CONFIG_KINDS, VERDICTS, Topology

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "topology.md"
NO_SUCH_KEY = "cascade_no_such_key"


def base() -> dict[str, Any]:
    """A valid topology; each case below adds NO_SUCH_KEY to one of its tables."""
    return {
        "mesh": {"name": "t"},
        "services": {"a": {"command": ["x"]}, "b": {"command": ["y"]}},
        "edges": {"a->b": {"env": "B_URL"}},
        "journeys": {"j": {"service": "a", "path": "/", "edges": ["a->b"], "budget_ms": 100,
                           "readback": {"service": "b", "path": "/{id}"}}},
    }


SECTIONS = {  # the page's heading for a table -> where in the TOML shape that table is
    "## `[mesh]`": ("mesh",),
    "## `[services.NAME]`": ("services", "a"),
    '## `[edges."caller->callee"]`': ("edges", "a->b"),
    "## `[journeys.NAME]`": ("journeys", "j"),
    "### `[journeys.NAME.readback]`": ("journeys", "j", "readback"),
}


def accepted(path: tuple[str, ...]) -> set[str]:
    """The keys the table at `path` takes, as the parser says when given one it does not."""
    data = base()
    table = data
    for part in path:
        table = table[part]
    table[NO_SUCH_KEY] = 1
    with pytest.raises(InvalidTopology) as info:
        Topology.from_dict(data, root="/srv/shop")
    message = str(info.value)
    assert f"unknown field {NO_SUCH_KEY!r}" in message and "allowed: " in message, message
    return set(message.rsplit("allowed: ", 1)[1].split(", "))


def section(heading: str) -> str:
    text = DOC.read_text()
    assert f"\n{heading}\n" in text, f"docs/topology.md has no heading {heading!r}"
    return re.split(r"\n#+ ", text.split(f"\n{heading}\n", 1)[1], maxsplit=1)[0]


def rows(heading: str) -> list[str]:
    """The first cell of every table row under `heading`, when it is `code`."""
    return re.findall(r"^\| `([^`]+)` \|", section(heading), flags=re.M)


def test_the_base_topology_is_valid():
    Topology.from_dict(base(), root="/srv/shop")


@pytest.mark.parametrize("heading", SECTIONS)
def test_every_key_the_parser_accepts_has_exactly_one_row_under_its_tables_heading(heading):
    keys, documented = accepted(SECTIONS[heading]), rows(heading)
    assert len(documented) == len(set(documented)), f"{heading}: a key has two rows: {documented}"
    missing = sorted(keys - set(documented))
    assert not missing, f"docs/topology.md, {heading}: no row for {missing}"
    stale = sorted(set(documented) - keys)
    assert not stale, f"docs/topology.md, {heading}: rows for keys the parser refuses: {stale}"


def test_every_top_level_table_has_its_section():
    tables = accepted(())
    text = DOC.read_text()
    for table in tables:
        assert re.search(rf"^##+ `\[{table}[.\]]", text, flags=re.M), f"docs/topology.md has no section for [{table}]"


def test_every_placeholder_the_local_runtime_fills_is_documented_and_no_other():
    documented = [r.strip("{}") for r in rows("### Command placeholders")]
    assert sorted(documented) == sorted(PLACEHOLDERS), (documented, PLACEHOLDERS)


def test_every_config_key_is_named_in_the_config_section():
    body = section("## `[config.NAME]`")
    assert "config-faults.md" in body
    for kind in CONFIG_KINDS:
        with pytest.raises(InvalidTopology) as info:
            Topology.from_dict({**base(), "config": {"x": {"kind": kind, NO_SUCH_KEY: 1}}}, root="/srv/shop")
        for key in str(info.value).rsplit("allowed: ", 1)[1].split(", "):
            assert f"`{key}`" in body, f"docs/topology.md's [config.NAME] section does not name `{key}` ({kind})"


def test_every_verdict_has_a_rule_row():
    verdicts = set(re.findall(r"^\| \d+ \| `([a-z_]+)` \|", section("## How a verdict is decided"), flags=re.M))
    assert verdicts == set(VERDICTS)


def test_the_page_is_linked_where_topology_keys_are_described():
    for page in ("README.md", "docs/writing-a-scenario.md", "docs/own-compose-file.md"):
        assert "topology.md" in (ROOT / page).read_text(), f"{page} does not link docs/topology.md"
