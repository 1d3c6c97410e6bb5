"""docs/config-faults.md against the topology parser: every key it accepts has its row, and no row names one it refuses (pure).

The key sets are read from the parser's own "unknown field ...; allowed: ..." errors, never
copied here, so a key added to (or dropped from) `_config_source` fails this test until the page
says so.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from harness.errors import InvalidTopology
from harness.topology import CONFIG_FORMATS, CONFIG_KINDS, Topology

ROOT = Path(__file__).parents[2]
DOC = ROOT / "docs" / "config-faults.md"
NO_SUCH_KEY = "cascade_no_such_key"


def refusal(config: dict[str, Any] | None = None, **mesh: Any) -> str:
    """The one-line InvalidTopology a topology with `config` tables and `mesh` keys gets."""
    with pytest.raises(InvalidTopology) as info:
        Topology.from_dict({"mesh": {"name": "t", **mesh}, "services": {"app": {"command": ["x"]}},
                            "config": config or {}}, root="/srv/shop")
    return str(info.value)


def allowed(message: str) -> set[str]:
    assert "allowed: " in message, message
    return set(message.rsplit("allowed: ", 1)[1].split(", "))


def keys_of(kind: str) -> set[str]:
    """The keys a `[config.X] kind = KIND` table takes, as the parser says when given one it does not."""
    return allowed(refusal({"x": {"kind": kind, NO_SUCH_KEY: 1}}))


def applied_keys() -> set[str]:
    return allowed(refusal({"x": {"kind": "file", "consumers": ["app"], "path": "a.json",
                                  "applied": {NO_SUCH_KEY: 1}}}))


def key_rows() -> dict[str, set[str]]:
    """The "Every key" table of the page: key -> the kinds its row says take it."""
    text = DOC.read_text()
    section = text.split("\n## Every key\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str]] = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([a-z_.]+)` \| ([^|]+) \|", line)
        if m:
            assert m.group(1) not in rows, f"two rows for {m.group(1)}"
            rows[m.group(1)] = {k.strip() for k in m.group(2).split(",")}
    return rows


def expected_rows() -> dict[str, set[str]]:
    """What the parser accepts: each key (and each applied.KEY) -> the kinds that take it."""
    by_key: dict[str, set[str]] = {}
    for kind in CONFIG_KINDS:
        for key in keys_of(kind):
            by_key.setdefault(key, set()).add(kind)
    for key in applied_keys():
        by_key[f"applied.{key}"] = set(by_key["applied"])
    return by_key


def test_every_key_the_parser_accepts_has_a_row_naming_exactly_the_kinds_that_take_it():
    rows, expected = key_rows(), expected_rows()
    missing = sorted(set(expected) - set(rows))
    assert not missing, f"docs/config-faults.md's 'Every key' table has no row for {missing}"
    wrong = {k: (rows[k], kinds) for k, kinds in expected.items() if rows[k] != kinds}
    assert not wrong, f"rows whose kinds differ from the parser's (page, parser): {wrong}"


def test_no_row_names_a_key_the_parser_refuses():
    stale = sorted(set(key_rows()) - set(expected_rows()))
    assert not stale, f"docs/config-faults.md documents keys the parser refuses: {stale}"


def test_every_kind_has_its_worked_example():
    text = DOC.read_text()
    for kind in CONFIG_KINDS:
        section = text.split(f'\n### `kind = "{kind}"`', 1)
        assert len(section) == 2, f"no section for kind = {kind!r}"
        body = re.split(r"\n##+ ", section[1], maxsplit=1)[0]
        for part in ("```toml\n[config.", "```python\n", "$ cascade inject config:", "$ cascade status"):
            assert part in body, f"the worked example of kind = {kind!r} has no {part!r}"


def test_every_format_signal_and_mesh_config_key_is_named():
    text = DOC.read_text()
    bad_signal = refusal({"x": {"kind": "file", "consumers": ["app"], "path": "a.json", "reload": "signal:CASCADE"}})
    signals = re.findall(r"signal:([A-Z0-9]+)", bad_signal.split("; use ", 1)[1])
    mesh_keys = {k for k in allowed(refusal(**{NO_SUCH_KEY: 1})) if "config" in k}
    assert signals and mesh_keys
    for word in [*CONFIG_FORMATS, *sorted(mesh_keys)]:
        assert f"`{word}`" in text, f"docs/config-faults.md does not name `{word}`"
    for sig in signals:
        assert f"`{sig}`" in text or f"signal:{sig}" in text, f"docs/config-faults.md does not name signal {sig}"


def test_the_page_is_linked_where_config_sources_are_described():
    for page in ("README.md", "docs/architecture.md", "docs/service-protocol.md"):
        assert "config-faults.md" in (ROOT / page).read_text(), f"{page} does not link docs/config-faults.md"
