"""The detection matrix: outcomes parsed from JUnit XML, knobs caught or not, rendered as a grid."""

import re
from pathlib import Path

from harness.suite.verify import Matrix, matrix_text, parse_junit, run_matrix

XML = """<?xml version="1.0"?><testsuites><testsuite>
<testcase classname="scenarios.test_net" name="test_a"/>
<testcase classname="scenarios.test_net" name="test_b"><failure message="x"/></testcase>
<testcase classname="scenarios.test_cfg" name="test_c"><skipped/></testcase>
<testcase classname="scenarios.test_cfg" name="test_d"><error message="teardown"/></testcase>
</testsuite></testsuites>"""


def test_parse_junit_reads_pass_fail_skip_and_errors_as_failures(tmp_path):
    p = tmp_path / "r.xml"
    p.write_text(XML)
    assert parse_junit(p) == {"test_net::test_a": "pass", "test_net::test_b": "fail",
                              "test_cfg::test_c": "skip", "test_cfg::test_d": "fail"}


def matrix(**runs):
    return Matrix(("timeouts", "fallbacks"), runs, {k: 1.0 for k in runs})


def test_ok_only_when_resilient_is_green_and_every_knob_is_caught():
    good = matrix(resilient={"s1": "pass", "s2": "pass"}, timeouts={"s1": "fail", "s2": "pass"},
                  fallbacks={"s1": "pass", "s2": "fail"})
    assert good.ok and good.uncaught() == [] and good.never_red() == []
    uncaught = matrix(resilient={"s1": "pass"}, timeouts={"s1": "fail"}, fallbacks={"s1": "pass"})
    assert not uncaught.ok and uncaught.uncaught() == ["fallbacks"]
    red = matrix(resilient={"s1": "fail"}, timeouts={"s1": "fail"}, fallbacks={"s1": "fail"})
    assert not red.ok and red.resilient_failures() == ["s1"]
    assert not matrix(timeouts={"s1": "fail"}, fallbacks={"s1": "fail"}).ok  # no resilient run at all


def test_matrix_text_marks_caught_cells():
    text = matrix_text(matrix(resilient={"s1": "pass", "s2": "pass"}, timeouts={"s1": "fail", "s2": "pass"},
                              fallbacks={"s1": "pass", "s2": "skip"}))
    assert re.search(r"^s1\s+\.\s+X\s+\.$", text, re.M)
    assert re.search(r"^s2\s+\.\s+\.\s+s$", text, re.M)
    assert "knobs uncaught: fallbacks" in text and "1 = timeouts" in text


def test_run_matrix_runs_resilient_then_each_knob(tmp_path):
    seen = []

    def runner(argv):
        mode = next(a for a in argv if a.startswith("--cascade-mode=")).split("=", 1)[1]
        seen.append(mode)
        xml = Path(next(a for a in argv if a.startswith("--junitxml=")).split("=", 1)[1])
        failed = mode == "brittle:timeouts"
        xml.write_text('<testsuites><testsuite><testcase classname="s.t" name="x">'
                       + ("<failure/>" if failed else "") + "</testcase></testsuite></testsuites>")
        return 1 if failed else 0

    m = run_matrix(["timeouts", "fallbacks"], ["scenarios"], tmp_path, runner=runner, clock=iter(range(100)).__next__)
    assert seen == ["resilient", "brittle:timeouts", "brittle:fallbacks"]
    assert m.outcomes["timeouts"] == {"t::x": "fail"} and m.uncaught() == ["fallbacks"]
