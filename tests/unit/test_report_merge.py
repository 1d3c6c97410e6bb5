"""Merging shards' reports: Allure results folders and JUnit files (no Allure generator here)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from harness.errors import UsageError
from harness.report.merge import merge_allure, merge_junit


def junit(path, cases, failures=0, time="1.5"):
    body = "".join(f'<testcase classname="{c}" name="t{i}" time="0.1"/>' for i, c in enumerate(cases))
    path.write_text(f'<?xml version="1.0"?><testsuites><testsuite name="pytest" tests="{len(cases)}" errors="0" '
                    f'failures="{failures}" skipped="0" time="{time}">{body}</testsuite></testsuites>')
    return path


def test_junit_files_merge_into_one_with_every_suite_and_the_totals_summed(tmp_path):
    a = junit(tmp_path / "shard-1.xml", ["scenarios.test_a"] * 3, failures=1, time="10.5")
    b = junit(tmp_path / "shard-2.xml", ["scenarios.test_b"] * 2, time="7.25")
    totals = merge_junit([a, b], tmp_path / "out" / "junit.xml")
    assert (totals.tests, totals.failures, totals.errors, totals.skipped, totals.time) == (5, 1, 0, 0, 17.75)
    root = ET.parse(tmp_path / "out" / "junit.xml").getroot()
    assert root.tag == "testsuites" and root.get("tests") == "5" and root.get("failures") == "1"
    assert [s.get("name") for s in root.iter("testsuite")] == ["pytest (shard-1)", "pytest (shard-2)"]
    assert len(list(root.iter("testcase"))) == 5


def test_overlapping_shards_and_files_that_are_not_junit_are_refused_by_name(tmp_path):
    a = junit(tmp_path / "a.xml", ["m.test_x"])
    b = junit(tmp_path / "b.xml", ["m.test_x"])
    with pytest.raises(UsageError, match=r"test m.test_x::t0 is in both .*a.xml and .*b.xml: the shards overlap"):
        merge_junit([a, b], tmp_path / "m.xml")
    (tmp_path / "c.xml").write_text("<html/>")
    with pytest.raises(UsageError, match=r"c.xml is not a JUnit XML file: its root is <html>"):
        merge_junit([tmp_path / "c.xml"], tmp_path / "m.xml")
    (tmp_path / "d.xml").write_text("not xml")
    with pytest.raises(UsageError, match=r"d.xml is not a JUnit XML file \("):
        merge_junit([tmp_path / "d.xml"], tmp_path / "m.xml")


def test_allure_results_merge_by_uuid_with_run_wide_files_once_and_environments_kept(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    for d, uid, shard in ((one, "aaa", "1/2"), (two, "bbb", "2/2")):
        d.mkdir()
        (d / f"{uid}-result.json").write_text("{}")
        (d / f"{uid}-attachment.svg").write_text("<svg/>")
        (d / "categories.json").write_text("[]")
        (d / "environment.properties").write_text(f"runtime=compose\nshard={shard}\n")
    out = tmp_path / "merged"
    out.mkdir()
    (out / "stale-result.json").write_text("{}")  # replaced, never mixed in
    assert merge_allure([one, two], out) == 2
    assert sorted(p.name for p in out.iterdir()) == ["aaa-attachment.svg", "aaa-result.json", "bbb-attachment.svg",
                                                     "bbb-result.json", "categories.json", "environment.properties"]
    assert (out / "environment.properties").read_text() == "runtime=compose\nshard=1/2 | 2/2\n"
    with pytest.raises(UsageError, match=r"aaa-\w+\.\w+ is in two results folders"):
        merge_allure([one, one], tmp_path / "again")
    with pytest.raises(UsageError, match=r"no Allure results folder at .*missing"):
        merge_allure([tmp_path / "missing"], tmp_path / "x")
