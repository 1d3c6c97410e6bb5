"""The soak's pure core: flakes across runs, the resource trend and the report."""

from harness.suite.soak import RunSample, SoakReport, failure_class, flakes, render, trend


def test_a_test_whose_outcome_differs_is_a_flake_and_one_missing_from_a_run_too():
    runs = [{"a": "pass", "b": "pass", "c": "fail"}, {"a": "pass", "b": "fail", "c": "fail"}, {"a": "pass", "c": "fail"}]
    assert flakes(runs) == {"b": ("pass", "fail", "-")}
    assert flakes([]) == {}


def test_the_trend_grows_only_beyond_a_quarter_more_than_the_first_run():
    assert trend([100, 110, 124]) == "steady"
    assert trend([100, 120, 150]) == "growing (+50% from run 1 to run 3)"
    assert trend([100]) == trend([0, 50]) == "steady"


def test_the_report_fails_on_a_flake_a_leftover_or_a_run_without_results():
    ok = RunSample(1, 0, 1.0, {"t": "pass"}, (), 4, 30, 80.0)
    assert SoakReport((ok, ok)).ok
    assert not SoakReport((ok, RunSample(2, 1, 1.0, {"t": "fail"}))).ok
    leaky = RunSample(2, 0, 1.0, {"t": "pass"}, ("process sleep 30 (pid 7) outlived the run",))
    report = SoakReport((ok, leaky))
    assert not report.ok and report.leftovers == ["run 2: process sleep 30 (pid 7) outlived the run"]
    assert not SoakReport((ok, RunSample(2, 4, 0.1, {}))).ok
    assert not SoakReport(()).ok
    text = render(report)
    assert "flakes: 0" in text and "leftovers: 1\n  run 2: process sleep 30" in text and "trend of RSS:" in text


def test_a_failure_in_every_run_is_reproducible_and_fails_the_soak_one_that_passed_once_is_flaky():
    failing = [RunSample(i, 1, 1.0, {"t": "fail", "u": "pass" if i == 1 else "fail", "v": "pass"}) for i in (1, 2)]
    report = SoakReport(tuple(failing))
    assert report.failures("reproducible") == {"t": ("fail", "fail")}  # no flake, and still not ok
    assert report.failures("flaky") == {"u": ("pass", "fail")}
    assert not report.ok
    assert not SoakReport((failing[0], failing[0])).ok  # the same failure twice: reproducible, never green
    text = render(report)
    assert "reproducible: 1 (failed in every run)\n  t: fail fail" in text
    assert "flaky: 1 (failed, and passed when run again)\n  u: pass fail" in text


def test_failure_class_reads_only_runs_that_ran_the_test():
    assert failure_class(("fail", "-", "fail")) == "reproducible"
    assert failure_class(("fail", "skip", "pass")) == "flaky"
    assert failure_class(("pass", "-")) == "" and failure_class(()) == ""
