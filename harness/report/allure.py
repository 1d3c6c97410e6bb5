"""The Allure reporter: steps for the baseline, each fault applied and reverted, the observations and the recovery; the pictures, the evidence, the journal, the timeline and the log tails attached.

    chaos fixture starts ── Recorder(mesh)      (this reporter `records`)
    teardown            ── write(...)           steps + attachments into the open Allure test result

Enabled only when allure-pytest writes results (`--alluredir`), so a run without it pays
nothing. The step tree comes from steps.py (pure); `write` hands it to Allure's reporter with
the real start and stop times.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .report_svg import timeline_svg
from .topology_svg import topology_svg
from .base import Recording, register_reporter
from .recorder import Recorder, scenario_journal, timeline_json
from .steps import ReportStep, scenario_steps

if TYPE_CHECKING:
    from ..chaos import Chaos

__all__ = ["AllureReporter", "write"]

LOG_TAIL_LINES = 60


@register_reporter("allure")
class AllureReporter:
    """Allure results through allure-pytest's listener, for every test that uses `chaos`."""

    records = True

    def enabled(self, config: Any) -> bool:
        """True when allure-pytest writes results (--alluredir given)."""
        return bool(config.pluginmanager.has_plugin("allure_listener"))

    def write(self, recording: Recording) -> None:
        """The test's steps and attachments, into the Allure test result that is open."""
        listener = recording.config.pluginmanager.get_plugin("allure_listener")
        assert recording.recorder is not None, "the plugin starts a Recorder for a reporter that records"
        write(listener.allure_logger, recording.chaos, recording.recorder, title=recording.title,
              topology_path=recording.topology_path, runtime=recording.runtime)

    def classified(self, item: Any, report: Any, classification: str) -> None:
        """A tag, so Allure's filters find the reproducible and the flaky failures."""
        import allure

        allure.dynamic.tag(classification)


def write(reporter: Any, chaos: Chaos, recorder: Recorder, *, title: str, topology_path: str, runtime: str) -> None:
    """Add the scenario's steps and attachments to the Allure test result that `reporter` has open."""
    from allure_commons.types import AttachmentType

    test = reporter.get_test(None)
    if test is None:
        return
    steady = chaos.mesh.steady_state().observations()
    cascades = chaos.cascades()
    results = chaos.contract_results()
    broken = [chaos.during[n] for n, r in results.items() if not r.ok and n in chaos.during]
    for step in scenario_steps(chaos.timeline, recorder.observations, origin_s=chaos.t0, baseline=steady,
                               broken=broken, recovery=chaos.recovery):
        _emit(reporter, test.uuid, step, recorder.wall_minus_monotonic)
    radius = chaos.radius()
    topology = chaos.mesh.topology

    def attach(body: str, name: str, kind: Any) -> None:
        reporter.attach_data(_uuid(), body, name=name, attachment_type=kind, parent_uuid=test.uuid)

    attach(timeline_svg(topology, chaos.timeline, recorder.observations, origin_s=chaos.t0, baseline=steady,
                        inside=radius.inside, broken={o.journey for o in broken}, cascades={c.journey for c in cascades},
                        title=title),
           "fault timeline", AttachmentType.SVG)
    verdicts = {r.journey: (r.baseline.verdict if r.baseline else None, r.during.verdict if r.during else None)
                for r in chaos.evidence_rows(results=results, cascades=cascades)}
    edges, services = chaos.faulted()
    attach(topology_svg(topology, edges=edges, services=services, verdicts=verdicts,
                        cascades={c.journey: c.route for c in cascades},
                        title=f"blast radius: {', '.join(radius.targets) or 'no fault'}"),
           "topology and blast radius", AttachmentType.SVG)
    attach(chaos.evidence(results=results, cascades=cascades, logs=False), "evidence", AttachmentType.TEXT)
    message = test.statusDetails.message if test.statusDetails and test.statusDetails.message else ""
    journal = scenario_journal(chaos, results, topology_path=topology_path, runtime=runtime, message=message)
    attach(json.dumps(journal.to_dict(), indent=1), "journal.json", AttachmentType.JSON)
    attach(json.dumps(timeline_json(chaos, recorder.observations, cascades), indent=1), "timeline.json",
           AttachmentType.JSON)
    for service in chaos.touched_services():
        attach("\n".join(chaos.mesh.logs(service, LOG_TAIL_LINES)), f"log tail: {service}", AttachmentType.TEXT)


def _emit(reporter: Any, parent: str, step: ReportStep, offset: float) -> None:
    from allure_commons.model2 import Status, TestStepResult

    uuid = _uuid()
    reporter.start_step(parent, uuid, TestStepResult(name=step.name, start=_ms(step.start_s, offset)))
    for child in step.children:
        _emit(reporter, uuid, child, offset)
    reporter.stop_step(uuid, stop=_ms(step.stop_s, offset), status=Status.PASSED if step.passed else Status.FAILED)


def _ms(monotonic_s: float, offset: float) -> int:
    return int(round((monotonic_s + offset) * 1000))


def _uuid() -> str:
    from allure_commons.utils import uuid4

    return str(uuid4())
