"""Merge the reports of several shards: Allure results folders into one, JUnit XML files into one.

    shard-1/allure-results ─┐                      shard-1.xml ─┐
    shard-2/allure-results ─┼─> merged results     shard-2.xml ─┼─> one <testsuites>: every shard's
    ...                     ┘   (cascade report)   ...          ┘   <testsuite>, totals summed

Allure's result, container and attachment files are named by UUID, so shards never collide; the
run-wide files (environment.properties, categories.json, executor.json) are taken once, and an
environment key whose value differs between shards keeps every value. A test that appears in two
JUnit files means the shards overlapped: refused, naming the test and both files.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..errors import UsageError

__all__ = ["JunitTotals", "merge_allure", "merge_junit"]

RUN_WIDE = ("categories.json", "executor.json")
ENVIRONMENT = "environment.properties"
COUNTS = ("tests", "failures", "errors", "skipped")


def merge_allure(sources: Sequence[Path], dest: Path) -> int:
    """Copy every shard's Allure results into `dest` (replaced); returns how many test results it holds."""
    missing = [str(s) for s in sources if not s.is_dir()]
    if missing:
        raise UsageError(f"no Allure results folder at {', '.join(missing)}; give what each shard's "
                         "pytest --alluredir wrote")
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    environment: dict[str, list[str]] = {}
    for source in sources:
        for f in sorted(source.iterdir()):
            if not f.is_file():
                continue
            if f.name == ENVIRONMENT:
                for line in f.read_text().splitlines():
                    key, sep, value = line.partition("=")
                    if sep and value.strip() not in environment.setdefault(key.strip(), []):
                        environment[key.strip()].append(value.strip())
            elif f.name in RUN_WIDE:
                if not (dest / f.name).exists():
                    shutil.copy2(f, dest / f.name)
            elif (dest / f.name).exists():
                raise UsageError(f"{f.name} is in two results folders ({source} and an earlier one): merge "
                                 "each shard's results once")
            else:
                shutil.copy2(f, dest / f.name)
    if environment:
        (dest / ENVIRONMENT).write_text("".join(f"{k}={' | '.join(v)}\n" for k, v in sorted(environment.items())))
    return len(list(dest.glob("*-result.json")))


@dataclass(frozen=True)
class JunitTotals:
    tests: int
    failures: int
    errors: int
    skipped: int
    time: float


def _suites(path: Path) -> list[ET.Element]:
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise UsageError(f"{path} is not a JUnit XML file ({exc}); give what each shard's pytest --junitxml "
                         "wrote") from None
    if root.tag == "testsuite":
        return [root]
    if root.tag == "testsuites":
        return list(root.iter("testsuite"))
    raise UsageError(f"{path} is not a JUnit XML file: its root is <{root.tag}>, not <testsuites> or <testsuite>")


def merge_junit(sources: Sequence[Path], dest: Path) -> JunitTotals:
    """One <testsuites> holding every shard's <testsuite> (named after its file), with the totals summed."""
    merged = ET.Element("testsuites", {"name": "cascade"})
    seen: dict[str, Path] = {}
    totals = dict.fromkeys(COUNTS, 0)
    seconds = 0.0
    for source in sources:
        for suite in _suites(source):
            for case in suite.iter("testcase"):
                key = f"{case.get('classname', '')}::{case.get('name', '')}"
                if key in seen:
                    raise UsageError(f"test {key} is in both {seen[key]} and {source}: the shards overlap; run "
                                     "each shard with --cascade-shard K/N over the same suite")
                seen[key] = source
            suite.set("name", f"{suite.get('name', 'pytest')} ({source.stem})")
            for count in COUNTS:
                totals[count] += int(suite.get(count, 0) or 0)
            seconds += float(suite.get("time", 0) or 0)
            merged.append(suite)
    for count in COUNTS:
        merged.set(count, str(totals[count]))
    merged.set("time", f"{seconds:.3f}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(merged).write(dest, encoding="utf-8", xml_declaration=True)
    return JunitTotals(totals["tests"], totals["failures"], totals["errors"], totals["skipped"], seconds)
