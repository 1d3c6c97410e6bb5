"""The JUnit reporter: what JUnit XML (and any report reading pytest's user properties) carries beyond the failure text.

The failure text itself (the verdict table, --cascade-confirm's rerun) is added by the plugin
for every format and the terminal alike; this reporter adds the `cascade_failure_class`
property that CI filters on.
"""

from __future__ import annotations

from typing import Any

from .base import Recording, register_reporter

__all__ = ["FAILURE_CLASS_PROPERTY", "JUnitReporter"]

FAILURE_CLASS_PROPERTY = "cascade_failure_class"


@register_reporter("junit")
class JUnitReporter:
    """Properties for JUnit XML; always on, since user properties cost nothing when no one reads them."""

    records = False

    def enabled(self, config: Any) -> bool:
        """Always: the property is how JUnit XML, or any report reading user properties, learns the class."""
        return True

    def write(self, recording: Recording) -> None:
        """Nothing per test: JUnit XML has no place for steps or attachments."""

    def classified(self, item: Any, report: Any, classification: str) -> None:
        """The `cascade_failure_class` property, on the item and on the call's report (JUnit reads the teardown's)."""
        item.user_properties.append((FAILURE_CLASS_PROPERTY, classification))
        report.user_properties.append((FAILURE_CLASS_PROPERTY, classification))
