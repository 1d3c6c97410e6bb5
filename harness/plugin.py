"""pytest plugin: options, markers, the `mesh` and `chaos` fixtures, the header and failure evidence (wiring only).

    --cascade-topology PATH   (ini: cascade_topology)  the topology the `mesh` fixture brings up
    --cascade-runtime local|compose|...                (ini: cascade_runtime, default local; the registered runtimes)
    --cascade-mode resilient|brittle|brittle:k1,k2     (ini: cascade_mode, default resilient)
    --cascade-seed N                                    the run's seed (random if not given)
    --cascade-shard K/N                                 only the K-th of N disjoint shards of the collected tests,
                                                        balanced by --cascade-durations (default .test_durations,
                                                        pytest-split's format) when present, by count otherwise
    --cascade-store-durations [PATH]                    merge this run's test durations into that file (or PATH)

The mesh is session-scoped and lazy: loading the plugin or running tests that do not ask for
`mesh` starts nothing. `mesh` resets it to baseline before each test; `chaos` reverts whatever
the test injected, and a failed revert fails the test.

A failing test's text gets the evidence (the verdict table) unless its assertion carried it
already, so `--junitxml` hands it to CI. Every registered reporter (harness/report/: Allure
with `--alluredir`, JUnit properties) that is enabled for the run writes each `chaos` test;
a Recorder keeps every observation only when one of them asks for it, so a run without
`--alluredir` pays nothing.
"""

from __future__ import annotations

import random
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from .chaos import Chaos
from .errors import BrokenAtRest, HarnessError
from .judge.evidence import evidence_table
from .mesh import RUNTIMES, Mesh
from .modes import Mode, parse_mode
from .report import Recorder, Recording, Reporter, enabled_reporters
from .suite.shard import DURATIONS_FILE, Shard, load_durations, parse_shard, split, store_durations
from .topology import Topology, load_topology

__all__: list[str] = []  # a plugin: pytest finds its hooks and fixtures by name

LOG_TAIL_LINES = 25


@dataclass(frozen=True)
class Settings:
    """The run's Cascade settings, checked in pytest_configure before anything starts."""

    topology: Topology | None
    runtime: str
    mode: Mode | None
    seed: int
    topology_path: str = ""
    confirm: bool = False  # --cascade-confirm


@dataclass
class Sharding:
    """--cascade-shard and the durations file; `note` is what the header says of the split."""

    shard: Shard | None
    durations: Path
    note: str = ""


SETTINGS = pytest.StashKey[Settings]()
SHARDING = pytest.StashKey[Sharding]()
CHAOS = pytest.StashKey[Chaos]()
MESH = pytest.StashKey[Mesh]()
RECORDER = pytest.StashKey[Recorder]()  # only when an enabled reporter records (Allure with --alluredir)
REPORTING = pytest.StashKey[list[Reporter]]()  # the reporters enabled for this test


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cascade", "Cascade chaos harness")
    group.addoption("--cascade-topology", default=None, help="topology TOML the `mesh` fixture brings up")
    group.addoption("--cascade-runtime", default=None, choices=list(RUNTIMES),
                    help=f"one of {', '.join(RUNTIMES)} (default local)")
    group.addoption("--cascade-mode", default=None,
                    help="resilient (default), brittle, or brittle:KNOB[,KNOB...]")
    group.addoption("--cascade-seed", default=None, type=int, help="seed of the run (printed in the header)")
    group.addoption("--cascade-confirm", action="store_true", default=False,
                    help="rerun a failed scenario once, alone on a new mesh, to classify it: reproducible (failed "
                         "again) or flaky (passed when rerun; still reported as a failure)")
    group.addoption("--cascade-shard", default=None, metavar="K/N",
                    help="run only shard K of N (disjoint; together the whole suite), balanced by recorded durations")
    group.addoption("--cascade-durations", default=None, metavar="PATH",
                    help=f"durations file for --cascade-shard (default {DURATIONS_FILE} in the rootdir; "
                         "pytest-split's format)")
    group.addoption("--cascade-store-durations", nargs="?", const="", default=None, metavar="PATH",
                    help="merge this run's test durations into the durations file, or into PATH (a shard of a CI "
                         "matrix writes its own, merged afterwards)")
    parser.addini("cascade_topology", "topology TOML (relative to the rootdir)", default="")
    parser.addini("cascade_runtime", f"one of {', '.join(RUNTIMES)}", default="local")
    parser.addini("cascade_mode", "resilient, brittle or brittle:KNOB,...", default="resilient")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: drives a Cascade mesh (added to every test that uses `mesh`)")
    runtime = config.getoption("--cascade-runtime") or config.getini("cascade_runtime")
    if runtime not in RUNTIMES:
        raise pytest.UsageError(f"--cascade-runtime {runtime!r} is not one of: {', '.join(RUNTIMES)}")
    given = config.getoption("--cascade-topology") or config.getini("cascade_topology")
    path = (Path(given) if Path(given).is_absolute() else config.rootpath / given) if given else None
    topology = mode = None
    try:
        if path is not None:
            topology = load_topology(path)
            mode = parse_mode(config.getoption("--cascade-mode") or config.getini("cascade_mode"), topology.knobs)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    try:
        shard = parse_shard(config.getoption("--cascade-shard")) if config.getoption("--cascade-shard") else None
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    durations = Path(config.getoption("--cascade-durations") or config.rootpath / DURATIONS_FILE)
    store = config.getoption("--cascade-store-durations")
    config.stash[SHARDING] = Sharding(shard, durations)
    if store is not None and not hasattr(config, "workerinput"):
        config.pluginmanager.register(DurationRecorder(Path(store) if store else durations), "cascade-durations")
    seed = config.getoption("--cascade-seed")
    if seed is None:  # an xdist worker runs with the controller's seed, the one its header shows
        seed = getattr(config, "workerinput", {}).get("cascade_seed")
    config.stash[SETTINGS] = Settings(topology, runtime, mode, seed if seed is not None else random.randrange(2**32),
                                      str(path or ""), bool(config.getoption("--cascade-confirm")))
    _sigterm_as_interrupt()


def _sigterm_as_interrupt() -> None:
    """Make SIGTERM unwind like Ctrl-C so every fixture's revert and teardown runs."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        def handler(signum: int, frame: Any) -> None:
            raise KeyboardInterrupt(f"signal {signum}")

        signal.signal(signal.SIGTERM, handler)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist: hand every worker the controller's seed, so `-n 2` runs stay reproducible."""
    node.workerinput["cascade_seed"] = node.config.stash[SETTINGS].seed


def pytest_report_header(config: pytest.Config) -> list[str]:
    s = config.stash[SETTINGS]
    if s.topology is None:
        return [f"cascade: seed={s.seed} (no topology configured: the `mesh` fixture is unavailable)"]
    from .runtime.provision import describe_toxiproxy  # imported lazily: runs `toxiproxy-server --version`

    line = (f"cascade: topology={s.topology.name} runtime={s.runtime} mode={s.mode} "
            f"toxiproxy={describe_toxiproxy()} seed={s.seed}")
    from .runtime import runtime_traits

    extra = runtime_traits(s.runtime).header()  # e.g. which compose ran the suite: it belongs in its log
    if extra:
        line += f" {extra}"
    return [line]


@pytest.hookimpl(trylast=True)  # after -k, -m and every other selection: shard what is left
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "mesh" in getattr(item, "fixturenames", ()):
            item.add_marker("chaos")
    sharding = config.stash[SHARDING]
    if sharding.shard is None:
        return
    try:
        durations = load_durations(sharding.durations)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    ids = [item.nodeid for item in items]
    shards = split(ids, sharding.shard.count, durations)
    keep = set(shards[sharding.shard.index - 1])
    known = sum(1 for tid in ids if tid in durations)
    how = (f"balanced by {sharding.durations.name} ({known} of {len(ids)} durations known)" if known
           else "by count (no durations recorded)")
    sharding.note = f"shard {sharding.shard}: {len(keep)} of {len(ids)} tests, {how}"
    if hasattr(config, "workeroutput"):
        config.workeroutput["cascade_shard"] = sharding.note
    dropped = [item for item in items if item.nodeid not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.nodeid in keep]


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Say how the shard was made: with xdist the workers collected, and the first one to finish told."""
    note = config.stash[SHARDING].note
    if note:
        terminalreporter.write_line(f"cascade: {note}")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist: a worker's shard note (every worker computes the same shard) reaches the controller."""
    sharding = node.config.stash[SHARDING]
    sharding.note = sharding.note or getattr(node, "workeroutput", {}).get("cascade_shard", "")


class DurationRecorder:
    """--cascade-store-durations: each test's setup + call + teardown, merged into the durations file at the end.

    Registered on the controller only: with xdist it receives every worker's reports.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.measured: dict[str, float] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.measured[report.nodeid] = self.measured.get(report.nodeid, 0.0) + report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.measured:
            store_durations(self.path, self.measured)


@pytest.fixture(scope="session")
def cascade_mesh(pytestconfig: pytest.Config) -> Iterator[Mesh]:
    """The session's mesh, started on first use and torn down at the end of the session."""
    s = pytestconfig.stash[SETTINGS]
    if s.topology is None or s.mode is None:
        raise pytest.UsageError("the `mesh` fixture needs a topology: pass --cascade-topology PATH or set cascade_topology in the ini file")
    tr = pytestconfig.pluginmanager.get_plugin("terminalreporter")

    def say(line: str) -> None:
        if tr is not None:
            tr.write_line(f"cascade: {line}")

    mesh = Mesh(s.topology, runtime=s.runtime, mode=s.mode, seed=s.seed, log=say)
    with mesh:
        for line in mesh.runtime.reaped:
            say(f"cleaned up: {line}")
        if s.topology.journeys:
            # The baseline every test compares with: measured once, before any fault, and gated:
            # on a mesh with a journey broken at rest no scenario runs (none could be judged).
            try:
                steady = mesh.steady_state()
            except BrokenAtRest as exc:
                pytest.exit(f"cascade: {exc}", returncode=pytest.ExitCode.TESTS_FAILED)
            say("steady state: " + ", ".join(f"{n} {b.verdict} {b.p50_ms:.0f}ms" for n, b in sorted(steady.baselines.items())))
        pytestconfig.stash[MESH] = mesh
        yield mesh


@pytest.fixture
def mesh(cascade_mesh: Mesh) -> Mesh:
    """The session's mesh, reset to its baseline (no toxics, proxies enabled, services up)."""
    cascade_mesh.reset()
    return cascade_mesh


@pytest.fixture
def chaos(mesh: Mesh, request: pytest.FixtureRequest) -> Iterator[Chaos]:
    """This test's fault injector; everything it applied is reverted at teardown."""
    c = Chaos(mesh)
    request.node.stash[CHAOS] = c
    reporters = request.node.stash[REPORTING] = enabled_reporters(request.config)
    if any(r.records for r in reporters):  # else no observation is kept: nothing costs
        request.node.stash[RECORDER] = Recorder(mesh)
    yield c
    try:
        c.revert_all()  # raises RevertFailed: the test errors in teardown, loudly
    finally:
        c.close()
        _write_reports(request, c, reporters)


@pytest.hookimpl(wrapper=True, trylast=True)  # innermost: JUnit and Allure read the report after this
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.failed and CHAOS in item.stash:
        c = item.stash[CHAOS]
        timeline = "\n".join(ev.line() for ev in c.timeline) or "(no faults applied)"
        report.sections.append(("cascade: fault timeline", timeline))
        report.sections.append(("cascade: service logs", _log_tails(c)))
        if report.when == "call":
            _add_evidence(report, call, c)
    s = item.config.stash.get(SETTINGS, None)
    if (s is not None and s.confirm and report.when == "call" and report.failed and s.mode is not None
            and "mesh" in getattr(item, "fixturenames", ())):
        _confirm(item, report, s)
    return report


def _confirm(item: pytest.Item, report: pytest.TestReport, s: Settings) -> None:
    """--cascade-confirm: classify the failure by a rerun on a new mesh (suite/confirm.py); the failure stands."""
    from .suite.confirm import rerun, rerun_argv

    tr = item.config.pluginmanager.get_plugin("terminalreporter")
    if tr is not None:
        tr.write_line(f"cascade: {item.nodeid} failed; rerunning it alone on a new mesh to classify it")
    result = rerun(rerun_argv(item.nodeid, topology=s.topology_path, runtime=s.runtime, mode=str(s.mode),
                              seed=s.seed), item.config.rootpath)  # node ids are relative to the rootdir
    first = report.longrepr.reprcrash.message if hasattr(report.longrepr, "reprcrash") else "see above"
    text = result.section(str(first).splitlines()[0] if first else "see above")
    report.sections.append((f"cascade: {result.classification}", text))
    if hasattr(report.longrepr, "addsection"):  # the failure text itself: what JUnit XML and Allure's trace carry
        report.longrepr.addsection(f"cascade: {result.classification}", text)
    for reporter in item.stash.get(REPORTING, None) or enabled_reporters(item.config):
        reporter.classified(item, report, result.classification)


def _write_reports(request: pytest.FixtureRequest, c: Chaos, reporters: list[Reporter]) -> None:
    """Every enabled reporter writes the test, while the mesh (and its logs) is still up."""
    recorder = request.node.stash.get(RECORDER, None)
    if recorder is not None:
        recorder.close()
    s = request.config.stash[SETTINGS]
    recording = Recording(c, recorder, title=request.node.name, topology_path=s.topology_path, runtime=s.runtime,
                          config=request.config)
    for reporter in reporters:
        reporter.write(recording)


def _add_evidence(report: pytest.TestReport, call: pytest.CallInfo[None], c: Chaos) -> None:
    """Put the verdict table into the failure text itself: that text is what JUnit XML carries to CI."""
    if not hasattr(report.longrepr, "addsection"):
        return
    cascades = c.cascades()
    text = str(call.excinfo.value) if call.excinfo is not None else ""
    # A failed chaos.assert_* already carries the table (with or without the cascades it was asked about).
    if any(evidence_table(c.evidence_rows(cascades=found)) in text for found in (cascades, ())):
        return
    report.longrepr.addsection("cascade: evidence", c.evidence(cascades=cascades, logs=False))


def _log_tails(c: Chaos) -> str:
    names = c.touched_services() or sorted(c.mesh.topology.services)
    parts = []
    for name in names:
        lines = c.mesh.logs(name, LOG_TAIL_LINES)
        parts.append(f"--- {name} (last {len(lines)} lines) ---\n" + "\n".join(lines))
    return "\n".join(parts)
