"""Evidence rendering: exact, deterministic plain text for tables, timelines and failure reports."""

from dataclasses import dataclass

import pytest

from harness.judge import evidence
from harness.judge.blast import Cascade
from harness.judge.contracts import ContractResult
from harness.errors import UsageError
from harness.judge.evidence import EvidenceRow, evidence_rows, evidence_table, render_failure, timeline_table
from harness.judge.verdicts import Observation

WANT = frozenset({"degraded", "failed_fast", "full"})


def obs(journey, verdict, ms, *, at_s=0.0, leaked=False):
    return Observation(journey, 200, ms, "", {}, at_s=at_s, verdict=verdict, leaked=leaked)


def ok(journey, verdict="full", acceptable=WANT):
    return ContractResult(journey, True, verdict, frozenset(acceptable), f"{journey}: {verdict} is acceptable")


def broken(journey, verdict, acceptable=WANT, message=""):
    return ContractResult(journey, False, verdict, frozenset(acceptable), message or f"{journey}: {verdict}, wanted")


CASCADE = Cascade("link", "full", "failed_fast", 12.0, 9.0, True, False, ("gateway->redis",),
                  "cascade: Down(gateway->redis) reached journey 'link' (outside its blast radius: "
                  "link declares links->redis only); verdict full -> failed_fast")

ROWS = evidence_rows(
    baseline={"login": obs("login", "full", 18), "home": obs("home", "full", 35), "link": obs("link", "full", 12)},
    during={"login": obs("login", "full", 21, at_s=10.3), "home": obs("home", "hung", 1500.4, at_s=10.2),
            "link": obs("link", "failed_fast", 9, at_s=10.25, leaked=True)},
    after={"login": obs("login", "full", 17), "home": obs("home", "full", 30), "link": obs("link", "full", 11)},
    results={"login": ok("login"),
             "home": broken("home", "hung", message="home: hung (1500 ms), wanted degraded|failed_fast|full"),
             "link": broken("link", "failed_fast", {"full"})},
    cascades=[CASCADE],
)

EVENTS = [
    (0.212, "applied", "Down(gateway->redis)", "gateway->redis"),
    (1.5, "reverted", "Down(gateway->redis)", "gateway->redis"),
]


def test_public_surface_is_sorted():
    assert evidence.__all__ == sorted(evidence.__all__)


def test_rows_are_zipped_and_sorted():
    assert [r.journey for r in ROWS] == ["home", "link", "login"]
    assert [r.broken for r in ROWS] == [True, True, False]
    assert ROWS[1].cascade is CASCADE and ROWS[2].cascade is None


def test_evidence_table_exact_text():
    assert evidence_table(reversed(ROWS)) == "\n".join([
        "journey   baseline    during                after       contract",
        "home      full 35ms   hung         1500ms   full 30ms   ✗ wanted degraded|failed_fast|full",
        "link      full 12ms   failed_fast! 9ms      full 11ms   ✗ wanted full; cascade",
        "login     full 18ms   full         21ms     full 17ms   ok",
        "! = the error body leaks an internal message",
    ])


def test_missing_phases_and_judgements_render_as_dashes():
    table = evidence_table([EvidenceRow("ping", baseline=obs("ping", "full", 3))])
    assert table == "journey   baseline   during   after   contract\nping      full 3ms   -        -       -"


def test_a_leak_that_the_contract_allowed_is_still_marked_and_a_leak_break_is_named():
    row = EvidenceRow("api", during=obs("api", "failed_fast", 9, leaked=True),
                      contract=broken("api", "failed_fast", {"failed_fast"}))
    assert evidence_table([row]).splitlines()[1].endswith("✗ leaked error body")


def test_timeline_table_aligns_times_and_actions():
    events = [*EVENTS, (12.0, "revert_failed", "Kill(media)", "media")]
    assert timeline_table(events) == "\n".join([
        " +0.212s  applied        Down(gateway->redis)",
        " +1.500s  reverted       Down(gateway->redis)",
        "+12.000s  revert_failed  Kill(media)",
    ])


@dataclass(frozen=True)
class FakeTimelineEvent:
    """The shape of harness.chaos.TimelineEvent."""

    t_s: float
    action: str
    fault: str
    kind: str
    targets: tuple
    detail: str = ""


def test_timeline_takes_event_objects_sorts_them_and_names_targets_missing_from_the_fault():
    events = [FakeTimelineEvent(1.0, "reverted", "Partition(auth)", "network", ("gateway->auth", "auth->redis")),
              FakeTimelineEvent(0.5, "applied", "Partition(auth)", "network", ("gateway->auth", "auth->redis"),
                                "2 proxies")]
    assert timeline_table(events, origin_s=0.25) == "\n".join([
        "+0.250s  applied   Partition(auth)  on gateway->auth, auth->redis  (2 proxies)",
        "+0.750s  reverted  Partition(auth)  on gateway->auth, auth->redis",
    ])


def test_an_empty_timeline_says_so_and_a_bad_event_is_named():
    assert timeline_table([]) == "(no faults applied)"
    with pytest.raises(UsageError, match=r"timeline event must be .* got 'oops'"):
        timeline_table(["oops"])
    with pytest.raises(UsageError, match="seconds as a number, got 'soon'"):
        timeline_table([("soon", "applied", "Down(a->b)", "a->b")])


def test_render_failure_exact_text():
    logs = {"redis": [], "gateway": [f"line {i}\n" for i in range(5)] + ["\x1b[31mERROR\x1b[0m redis down"]}
    text = render_failure(ROWS, events=EVENTS, logs=logs, tail=3, recovery_s=0.84, origin_s=10.0)
    assert text == "\n".join([
        "fault: Down(gateway->redis) on edge gateway->redis",
        "hit, in order: home hung (+0.200s, broke its contract), link failed_fast (+0.250s, cascade)",
        "recovery: 0.840s after the last revert",
        "",
        "journeys:",
        evidence_table(ROWS),
        "",
        "problems:",
        "  home: hung (1500 ms), wanted degraded|failed_fast|full",
        "  link: failed_fast, wanted",
        "  " + CASCADE.message,
        "",
        "fault timeline:",
        "+0.212s  applied   Down(gateway->redis)",
        "+1.500s  reverted  Down(gateway->redis)",
        "",
        "log tail: gateway (last 3 of 6 lines)",
        "  line 3",
        "  line 4",
        "  ERROR redis down",
        "",
        "log tail: redis (last 0 of 0 lines)",
        "  (empty)",
        "",
    ])
    assert "\x1b" not in text
    assert render_failure(ROWS, events=EVENTS, logs=logs, tail=3, recovery_s=0.84, origin_s=10.0) == text


def test_render_failure_without_times_recovery_or_changes():
    rows = [EvidenceRow("login", obs("login", "full", 5), obs("login", "full", 6), contract=ok("login"))]
    text = render_failure(rows, faults=["Latency(gateway->auth, ms=50)"])
    assert text.splitlines()[:3] == [
        "fault: Latency(gateway->auth, ms=50)",
        "hit: no journey changed verdict",
        "recovery: not measured",
    ]
    assert "problems:" not in text
    assert render_failure([]).startswith("fault: none recorded\n")


def test_log_tails_are_plain_text_whatever_the_service_wrote():
    logs = {"auth": [b"bytes \xff line\n", "\x1b]0;title\x07osc \x1b[1;32mgreen\x1b[0m\ttab\x00"]}
    assert render_failure([], logs=logs).splitlines()[-2:] == ["  bytes \ufffd line", "  osc green\ttab"]


def test_render_failure_refuses_a_bad_tail():
    with pytest.raises(UsageError, match="tail must be a whole number of lines >= 0, got -1"):
        render_failure([], tail=-1)
