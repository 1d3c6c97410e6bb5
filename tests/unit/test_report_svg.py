"""Report pictures (report_svg, topology_svg) and Allure steps, from values only: well-formed SVG with a mark per fault, observation and blast-radius element."""

import xml.etree.ElementTree as ET

import pytest

from harness.allure_report import MAX_OBSERVATION_STEPS, scenario_steps
from harness.chaos import TimelineEvent
from harness.observe.journeys import Recovery
from harness.report.report_svg import timeline_svg
from harness.report.svg import VERDICT_COLOURS
from harness.report.topology_svg import topology_svg
from harness.topology import Topology

SVG = "{http://www.w3.org/2000/svg}"
ORIGIN = 500.0  # the chaos's start on the monotonic clock

TOPOLOGY = Topology.from_dict({
    "mesh": {"name": "shop"},
    "services": {name: {"command": ["true"]} for name in ("web", "api", "cart", "db")},
    "edges": {"web->api": {"env": "API_URL"}, "api->cart": {"env": "CART_URL"}, "cart->db": {"env": "DB_URL"},
              "api->db": {"env": "DB_URL"}},
    "journeys": {
        "browse": {"service": "web", "path": "/", "edges": ["web->api", "api->db"], "budget_ms": 1000},
        "checkout": {"service": "web", "path": "/buy", "edges": ["web->api", "api->cart", "cart->db"],
                     "budget_ms": 1500},
        "status": {"service": "api", "path": "/status", "edges": [], "budget_ms": 500},
    },
})


def event(t_s, action, fault="Latency(api->cart, ms=900)", targets=("api->cart",), detail=""):
    return TimelineEvent(t_s, action, fault, "latency", targets, detail)


def obs(journey, verdict, ms, at):
    from harness.judge.verdicts import Observation

    return Observation(journey, 200, ms, "", {}, at_s=ORIGIN + at, verdict=verdict, reason=f"200 in {ms} ms")


EVENTS = [event(0.5, "applied"), event(2.0, "reverted"),
          event(2.5, "applied", "Down(api->db)", ("api->db",)), event(3.0, "reverted", "Down(api->db)", ("api->db",))]
OBSERVATIONS = [obs("checkout", "full", 40, 0.1), obs("checkout", "hung", 1700, 0.6), obs("browse", "full", 30, 0.7),
                obs("status", "failed_fast", 5, 1.0), obs("browse", "failed_fast", 4, 2.6), obs("checkout", "full", 45, 3.2)]
BASELINE = {"browse": obs("browse", "full", 30, -1), "checkout": obs("checkout", "full", 40, -1),
            "status": obs("status", "full", 3, -1)}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)  # raises on anything that is not well-formed XML
    assert root.tag == f"{SVG}svg"
    return root


def with_class(root: ET.Element, cls: str) -> list[ET.Element]:
    return [e for e in root.iter() if cls in (e.get("class") or "").split()]


def timeline(**kw):
    args = dict(origin_s=ORIGIN, baseline=BASELINE, inside={"checkout"}, broken={"checkout"}, cascades={"status"},
                title="test_checkout <survives> & more")
    return parse(timeline_svg(TOPOLOGY, EVENTS, OBSERVATIONS, **{**args, **kw}))


def test_the_timeline_is_well_formed_xml_and_escapes_the_title():
    root = timeline()
    titles = [e.text for e in root.iter(f"{SVG}text")]
    assert "test_checkout <survives> & more" in titles


def test_the_timeline_draws_a_bar_per_fault_application_between_apply_and_revert():
    bars = with_class(timeline(), "fault-bar")
    assert [b.get("data-fault") for b in bars] == ["Latency(api->cart, ms=900)", "Down(api->db)"]
    latency, down = (float(b.get("width")) for b in bars)
    assert latency == pytest.approx(3 * down, rel=0.01)  # 1.5 s against 0.5 s on the same axis


def test_a_flapping_fault_gets_one_row_and_a_bar_per_application():
    flaps = [event(t, a, "Down(api->db)", ("api->db",)) for t, a in ((0.1, "applied"), (0.3, "reverted"),
                                                                     (0.5, "applied"), (0.7, "reverted"))]
    bars = with_class(parse(timeline_svg(TOPOLOGY, flaps, [], origin_s=ORIGIN)), "fault-bar")
    assert len(bars) == 2 and {b.get("y") for b in bars} == {bars[0].get("y")}


def test_a_fault_never_reverted_runs_to_the_end_with_a_warning_outline():
    events = [event(0.5, "applied"), event(2.0, "applied", "Down(api->db)", ("api->db",)),
              event(2.5, "revert_failed", "Down(api->db)", ("api->db",), detail="toxiproxy said no")]
    bars = with_class(parse(timeline_svg(TOPOLOGY, events, [], origin_s=ORIGIN)), "fault-bar")
    assert len(bars) == 2 and all(b.get("stroke-dasharray") for b in bars)


def test_the_timeline_draws_a_point_per_observation_coloured_by_verdict():
    points = with_class(timeline(), "obs")
    assert len(points) == len(OBSERVATIONS)
    assert sorted(p.get("data-verdict") for p in points) == sorted(o.verdict for o in OBSERVATIONS)
    for p in points:
        assert p.get("fill") == VERDICT_COLOURS[p.get("data-verdict")]


def test_a_slower_observation_sits_higher_in_its_lane_and_later_ones_further_right():
    lane = next(e for e in with_class(timeline(), "lane") if e.get("data-journey") == "checkout")
    fast, slow, late = [c for c in lane if "obs" in (c.get("class") or "")]
    assert float(slow.get("cy")) < float(fast.get("cy"))  # SVG y grows downwards
    assert float(fast.get("cx")) < float(slow.get("cx")) < float(late.get("cx"))


def test_the_timeline_tags_the_cascade_and_the_broken_contract():
    root = timeline()
    lanes = {e.get("data-journey"): e.get("class").split() for e in with_class(root, "lane")}
    assert lanes == {"browse": ["lane"], "checkout": ["lane", "broken"], "status": ["lane", "cascade"]}
    assert any("CASCADE outside the blast radius: status" == e.text for e in root.iter(f"{SVG}text"))


def test_fault_windows_shade_every_lane_while_a_fault_is_active():
    windows = with_class(timeline(), "fault-window")
    assert len(windows) == 2


def test_an_empty_timeline_is_still_a_picture():
    root = parse(timeline_svg(TOPOLOGY, [], [], origin_s=ORIGIN))
    assert not with_class(root, "fault-bar") and not with_class(root, "obs")
    assert "(no faults applied)" in [e.text for e in root.iter(f"{SVG}text")]


def test_the_topology_highlights_faulted_and_touched_services_and_faulted_edges():
    root = parse(topology_svg(TOPOLOGY, edges={"api->cart"}, services={"db"}))
    nodes = {e.get("data-service"): e.get("class").split() for e in with_class(root, "node")}
    assert nodes == {"db": ["node", "faulted"], "api": ["node", "touched"], "cart": ["node", "touched"],
                     "web": ["node"]}
    edges = {e.get("data-edge"): e.get("class").split() for e in with_class(root, "edge")}
    # db is faulted as a whole: every edge into it is cut, as is the faulted edge itself.
    assert {n for n, c in edges.items() if "faulted" in c} == {"api->cart", "cart->db", "api->db"}
    assert edges["web->api"] == ["edge"]


def test_the_topology_marks_changed_journeys_their_edges_and_a_cascade_route():
    root = parse(topology_svg(
        TOPOLOGY, edges={"cart->db"},
        verdicts={"checkout": ("full", "degraded"), "browse": ("full", "full"), "status": ("full", "hung")},
        cascades={"status": ("api->cart", "cart->db")}))
    journeys = {e.get("data-journey"): e.get("class").split() for e in with_class(root, "journey")}
    assert journeys == {"browse": ["journey"], "checkout": ["journey", "changed"],
                        "status": ["journey", "changed", "cascade"]}
    edges = {e.get("data-edge"): e.get("class").split() for e in with_class(root, "edge")}
    assert edges["cart->db"] == ["edge", "faulted"]  # faulted wins over the route it is on
    assert edges["api->cart"] == ["edge", "route"]
    assert edges["web->api"] == ["edge", "changed"]  # on checkout's declared path
    assert edges["api->db"] == ["edge"]
    assert any("undeclared route: api -> cart -> db" in (e.text or "") for e in root.iter(f"{SVG}text"))


def test_the_layout_puts_callees_right_of_their_callers():
    root = parse(topology_svg(TOPOLOGY))
    x = {g.get("data-service"): float(next(iter(g)).get("x")) for g in with_class(root, "node")}
    assert x["web"] < x["api"] < x["cart"] < x["db"]


# -- Allure steps ------------------------------------------------------------------------


def test_steps_run_baseline_then_faults_and_observations_in_order_then_recovery():
    rec = Recovery(True, 0.42, {})
    steps = scenario_steps(EVENTS, OBSERVATIONS, origin_s=ORIGIN, baseline=BASELINE, recovery=rec)
    names = [s.name for s in steps]
    assert names == [
        "baseline: every journey's steady state, measured before any fault",
        "observed 1 journey run with no fault active: full x1",
        "+0.500s applied Latency(api->cart, ms=900)",
        "observed 3 journey runs while 1 fault active: failed_fast x1, full x1, hung x1",
        "+2.000s reverted Latency(api->cart, ms=900)",
        "+2.500s applied Down(api->db)",
        "observed 1 journey run while 1 fault active: failed_fast x1",
        "+3.000s reverted Down(api->db)",
        "observed 1 journey run with no fault active: full x1",
        "recovery: every journey back to its baseline verdict 0.420s after the last revert",
    ]
    assert [c.name for c in steps[0].children] == ["browse: full in 30 ms", "checkout: full in 40 ms",
                                                   "status: full in 3 ms"]
    during = steps[3]
    assert not during.passed and [c.passed for c in during.children] == [False, True, True]  # hung never passes
    assert during.start_s == ORIGIN + 0.6 and during.stop_s == pytest.approx(ORIGIN + 0.6 + 1.7)


def test_an_observation_that_broke_its_contract_fails_its_step():
    broken = OBSERVATIONS[4]  # browse failed_fast while api->db was down
    steps = scenario_steps(EVENTS, OBSERVATIONS, origin_s=ORIGIN, baseline={}, broken=[broken])
    assert not steps[6].passed and steps[6].children[0].name == "browse: failed_fast, 200 in 4 ms"


def test_failed_reverts_and_no_recovery_fail_their_steps():
    events = [event(0.5, "applied"), event(1.0, "revert_failed", detail="toxiproxy said no")]
    steps = scenario_steps(events, [], origin_s=ORIGIN, baseline={},
                           recovery=Recovery(False, 5.0, {}, still_off=("checkout",)))
    assert [(s.name, s.passed) for s in steps[2:]] == [
        ("+1.000s revert_failed Latency(api->cart, ms=900) (toxiproxy said no)", False),
        ("recovery: not recovered after 5.000s; still off: checkout", False),
    ]


def test_a_load_of_observations_is_summarised_beyond_the_step_limit():
    many = [obs("browse", "full", 10, 0.6 + i * 0.01) for i in range(MAX_OBSERVATION_STEPS + 25)]
    group = scenario_steps(EVENTS[:2], many, origin_s=ORIGIN, baseline={})[2]
    assert len(group.children) == MAX_OBSERVATION_STEPS + 1
    assert group.children[-1].name == "... and 25 more" and group.name.startswith(f"observed {len(many)} journey runs")
