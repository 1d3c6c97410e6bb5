"""Old home of the Allure report and its recorder; they live in harness/report/ now (this shim keeps imports working)."""

from .report.allure import write
from .report.recorder import Recorder
from .report.steps import MAX_OBSERVATION_STEPS, ReportStep, scenario_steps

__all__ = ["MAX_OBSERVATION_STEPS", "Recorder", "ReportStep", "scenario_steps", "write"]
