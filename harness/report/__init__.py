"""Reporters: the format-neutral recorder of a scenario and the formats (Allure, JUnit) that plug into it (base.py draws it)."""

from .base import REPORTERS, Recording, Reporter, enabled_reporters, register_reporter
from .recorder import Recorder, scenario_journal, timeline_json
from .steps import MAX_OBSERVATION_STEPS, ReportStep, scenario_steps

# The built-in formats register themselves on import, in this order.
from .allure import AllureReporter  # noqa: E402 - after the registry it registers into
from .junit import JUnitReporter  # noqa: E402 - after the registry it registers into
from ..builtins import load_builtins  # noqa: E402

load_builtins(__name__, __path__, first=("base", "recorder", "steps", "allure", "junit"))  # each other module registers a reporter

__all__ = [
    "AllureReporter",
    "JUnitReporter",
    "MAX_OBSERVATION_STEPS",
    "REPORTERS",
    "Recorder",
    "Recording",
    "ReportStep",
    "Reporter",
    "enabled_reporters",
    "register_reporter",
    "scenario_journal",
    "scenario_steps",
    "timeline_json",
]
