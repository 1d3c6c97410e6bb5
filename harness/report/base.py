"""The reporter extension point: one interface the pytest plugin calls for every `chaos` test, and a registry.

    chaos fixture starts ── every enabled reporter; a Recorder if one of them `records`
    test runs, chaos reverts
    teardown             ── reporter.write(Recording)           (the mesh and its logs are still up)
    --cascade-confirm    ── reporter.classified(item, report, "reproducible" | "flaky")

A new report format is one module beside this one and its tests:

    @register_reporter("html")
    class HtmlReporter:
        records = True
        def enabled(self, config): ...
        def write(self, recording): ...
        def classified(self, item, report, classification): ...

The plugin iterates REPORTERS; nothing else branches on a format's name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Protocol, TypeVar, runtime_checkable

from ..builtins import same_definition
from ..errors import UsageError

if TYPE_CHECKING:
    from ..chaos import Chaos
    from .recorder import Recorder

__all__ = ["REPORTERS", "Recording", "Reporter", "enabled_reporters", "register_reporter"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


@dataclass(frozen=True)
class Recording:
    """What a reporter gets for one test: the chaos (timeline, verdicts, evidence), the recorder, where it ran."""

    chaos: Chaos
    recorder: Recorder | None  # every observation of the test; None when no enabled reporter `records`
    title: str  # the test's name
    topology_path: str
    runtime: str
    config: Any  # the pytest.Config, for a format that reaches its own plugin (allure-pytest's listener)


@runtime_checkable
class Reporter(Protocol):
    """A report format fed from the recorder; stateless, one instance per registered name."""

    records: bool  # needs every journey observation of the test (costs a subscription per test)

    def enabled(self, config: Any) -> bool:
        """Whether this pytest run writes this format (e.g. --alluredir was given)."""
        ...

    def write(self, recording: Recording) -> None:
        """Write one test's report (called at the chaos fixture's teardown, after every revert)."""
        ...

    def classified(self, item: Any, report: Any, classification: str) -> None:
        """Carry --cascade-confirm's class of a failed test ("reproducible" or "flaky") in this format."""
        ...


REPORTERS: dict[str, Reporter] = {}  # name -> the reporter; filled by register_reporter, in registration order

C = TypeVar("C", bound=Callable[[], Any])


def register_reporter(name: str) -> Callable[[C], C]:
    """Class decorator: register an instance of the class as the reporter called `name`."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise UsageError(f"reporter name {name!r} must be lowercase letters, digits, _ or - (like \"allure\")")

    def register(cls: C) -> C:
        known = REPORTERS.get(name)
        if known is not None and not same_definition(type(known), cls):
            raise UsageError(f"reporter {name!r} is already registered ({type(known).__qualname__}); pick another name")
        reporter = cls()
        if not isinstance(reporter, Reporter):
            missing = [m for m in ("records", "enabled", "write", "classified") if not hasattr(reporter, m)]
            raise UsageError(f"reporter {name!r} ({getattr(cls, '__qualname__', cls)!r}) lacks {', '.join(missing)}; "
                             "see harness.report.Reporter")
        REPORTERS[name] = reporter
        return cls

    return register


def enabled_reporters(config: Any) -> list[Reporter]:
    """The registered reporters this run writes, in registration order."""
    return [r for r in REPORTERS.values() if r.enabled(config)]
