"""Bad-input fuzzing: topology TOML, fault parameters, CLI argv and config documents (Hypothesis).

Every generated input either works or is refused with the harness's own error type, whose
message names the bad field; no other exception type escapes, nothing prints a traceback and
nothing is left running. 1000 examples per input kind; each case is pure and fast (the CLI
cases only reach validation paths: a command that would start a mesh or run pytest is parsed,
not run).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from harness.cli import COMMANDS, build_parser, main
from harness.config_faults import BadConfig, apply_patch
from harness.errors import InvalidFault, InvalidTopology, UsageError
from harness.faults import FAULT_KINDS, parse_fault
from harness.topology import load_topology
from services.common.config_default import default_document
from services.common.config_schema import validate_document
from services.common.errors import InvalidConfig

BUNDLED = Path(__file__).parents[2] / "services" / "topology.toml"
FUZZ = settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- shared strategies -----------------------------------------------------------

names = st.sampled_from(["front", "back", "redis", "a", "b", "Bad", "", "x y", "timeline", "1st"])
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True),
    st.text(max_size=12), st.sampled_from(["/health", "tcp", "BACK_URL", "{python}", "http://{host}:{port}"]),
)
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3), max_leaves=8)


def no_children() -> list[str]:
    """Processes whose parent is this test process: a fuzz case must never leave one."""
    me = str(os.getpid())
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[1] == me and fields[0] != "Z":
            found.append(stat.parent.name)
    return found


@pytest.fixture(scope="module", autouse=True)
def nothing_left_running():
    # Earlier tests of the same session may own children still (a session-scoped mesh); only what
    # appeared while these fuzz cases ran counts.
    before = set(no_children())
    yield
    assert sorted(set(no_children()) - before) == []


# -- topology declarations -------------------------------------------------------


def toml_value(value: Any) -> str:
    """TOML text of a JSON-like value, as inline tables and arrays (None has no TOML form: a string)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return "nan" if value != value else ("inf" if value == float("inf") else "-inf" if value == float("-inf") else repr(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def service_decl() -> st.SearchStrategy[dict[str, Any]]:
    good = st.fixed_dictionaries({"command": st.just(["{python}", "{root}/app.py", "back"])},
                                 optional={"health": st.sampled_from(["/health", "tcp", "health", ""]),
                                           "start_timeout_s": st.one_of(st.floats(-1, 700), st.integers(-5, 700)),
                                           "port_env": st.sampled_from(["PORT", "port", "BACK_PORT"]),
                                           "container_port": st.integers(-1, 70000),
                                           "env": st.dictionaries(st.sampled_from(["A", "b", "C_1"]), scalars, max_size=2)})
    return st.one_of(good, json_values)


def edge_decl() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries({"env": st.sampled_from(["BACK_URL", "back_url", "PORT", "X"])},
                              optional={"url": st.sampled_from(["http://{host}:{port}", "{host}", "{bad", "redis://{host}:{port}/0"])}),
        json_values,
    )


def journey_decl() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.fixed_dictionaries(
            {"service": names, "path": st.sampled_from(["/ping", "ping", "/"]), "budget_ms": st.one_of(st.integers(-5, 700_000), scalars)},
            optional={"edges": st.lists(st.sampled_from(["front->back", "back->front", "a->", "x"]), max_size=3),
                      "method": st.sampled_from(["GET", "POST", "get", "BREW"]),
                      "expect_status": st.one_of(st.integers(0, 700), st.lists(st.integers(0, 700), max_size=2), scalars),
                      "contract": st.dictionaries(st.sampled_from(["front->back", "front", "nope"]),
                                                  st.lists(st.sampled_from(["full", "degraded", "hung", "meh"]), max_size=2), max_size=2),
                      "allow_leaks": scalars}),
        json_values,
    )


topologies = st.fixed_dictionaries(
    {"services": st.dictionaries(names, service_decl(), max_size=3)},
    optional={
        "mesh": st.fixed_dictionaries({}, optional={"name": scalars, "knobs": st.lists(st.sampled_from(["timeouts", "Bad Knob", ""]), max_size=2),
                                                    "config_service": names, "env": st.dictionaries(st.text(max_size=4), scalars, max_size=2)}),
        "edges": st.dictionaries(st.sampled_from(["front->back", "back->front", "front->front", "a->b", "front - back", "->"]), edge_decl(), max_size=3),
        "journeys": st.dictionaries(names, journey_decl(), max_size=2),
        "extra": scalars,
    },
)


def toml_text(data: dict[str, Any]) -> str:
    return "\n".join(f"{key} = {toml_value(value)}" for key, value in data.items()) + "\n"


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """The text with a few random cuts, insertions or duplications: broken TOML, odd values."""
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 20)))
        op = draw(st.sampled_from(["cut", "insert", "dup"]))
        if op == "cut":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + draw(st.text(alphabet='[]{}="\\.,\n ab-_>', max_size=5)) + text[i:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    return text


topology_texts = st.one_of(
    topologies.map(toml_text),
    topologies.map(toml_text).flatmap(mutated),
    st.just(BUNDLED.read_text()).flatmap(mutated),
)

TOP_LEVEL = ("topology", "mesh", "services", "edges", "journeys")


@FUZZ
@given(text=topology_texts)
def test_any_topology_declaration_loads_or_names_the_bad_field(text):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "topology.toml"
        path.write_text(text, errors="surrogatepass")
        try:
            topo = load_topology(path)
        except InvalidTopology as exc:
            event("refused: InvalidTopology")
            msg = str(exc)
            assert "\n" not in msg.strip()
            assert "not valid TOML" in msg or "cannot read" in msg or msg.startswith(TOP_LEVEL) or " " in msg, msg
            assert any(word in msg for word in TOP_LEVEL + ("TOML", "cannot read", "journeys.", "edges.", "services.")), msg
        else:
            event("loaded")
            assert topo.services  # a topology that loads has something to run


# -- fault parameters -------------------------------------------------------------

fault_words = st.one_of(
    st.sampled_from(sorted(FAULT_KINDS) + ["LATENCY", "bad-config", "nope", ""]),
    st.text(max_size=8),
)
targets = st.sampled_from(["timeline->media", "gateway->auth", "timeline", "redis", "auth->nope", "a b", "->",
                           "patch", "raw", "document", "malformed", "wrong_type", "missing_section", "out_of_range", ""])
param_names = st.sampled_from(["ms", "jitter_ms", "kbps", "avg_bytes", "variation", "delay_us", "bytes_", "direction",
                               "toxicity", "path", "value", "raw", "patch", "document", "name", "for_s", "x", "1bad"])
param_values = st.one_of(
    st.integers(-(2**70), 2**70).map(str), st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(['"up"', "upstream", "both", "true", "null", "[]", "{}", '["set","a.b",1]', '[["delete","x"]]',
                     '{"a":1}', "NaN", "1e999", "'unterminated", '"a.b"', "-0"]),
    st.text(max_size=8),
)

@st.composite
def well_formed_fault_lines(draw: st.DrawFn) -> str:
    """A real kind aimed at a real edge or service, with its own parameters: most are accepted."""
    kind = draw(st.sampled_from(sorted(set(FAULT_KINDS) - {"bad_config"})))
    own = [f.name for f in fields(FAULT_KINDS[kind]) if f.init]
    target = draw(st.sampled_from(["timeline->media", "gateway->auth"] if own[0] == "edge" else ["timeline", "redis"]))
    good = {"direction": st.sampled_from(["upstream", "downstream", "both", "sideways"]),
            "toxicity": st.sampled_from(["0", "0.5", "1", "2"])}
    params = [f"{n}={draw(good.get(n, st.integers(-1, 5000).map(str)))}" for n in own[1:] if draw(st.integers(0, 9))]
    return " ".join([kind, target, *params])


fault_lines = st.one_of(
    well_formed_fault_lines(),
    st.builds(lambda kind, target, params: " ".join([kind, target, *(f"{n}={v}" for n, v in params)]),
              fault_words, targets, st.lists(st.tuples(param_names, param_values), max_size=4)),
    st.text(max_size=40),
)


@FUZZ
@given(line=fault_lines)
def test_any_fault_line_parses_or_names_the_bad_parameter(line):
    topology = _bundled()
    try:
        fault = parse_fault(line)
        fault.validate(topology)
        fault.describe()
        json.dumps(fault.params())
        event("accepted")
    except InvalidFault as exc:
        event("refused: InvalidFault")
        assert str(exc) and "\n" not in str(exc), str(exc)
    except InvalidTopology as exc:  # an edge or service the topology does not have
        event("refused: InvalidTopology")
        assert "unknown" in str(exc) or "edge" in str(exc), str(exc)


_TOPOLOGY: list[Any] = []


def _bundled() -> Any:
    if not _TOPOLOGY:
        _TOPOLOGY.append(load_topology(BUNDLED))
    return _TOPOLOGY[0]


# -- CLI arguments ----------------------------------------------------------------

argv_words = st.one_of(
    st.sampled_from([c.replace("_", "-") for c in COMMANDS]),
    st.sampled_from(["--help", "-h", "--all", "--json",
                     "--quiet", "--provision", "--topology", "--knob", "--workdir", "--bogus", "-k", "0", "-1",
                     "2", "x", "", "--", "--topology=/nonexistent", "tests/fixtures", "--out", "--junit-dir"]),
    st.text(max_size=10),
)

# The only command run in-process once its arguments parse: it starts nothing. Every other
# command's successful parse means real work (a mesh, a pytest run, a build): parsed, not run.
_STARTS_NOTHING = {"cleanup"}


def _only_validation(argv: list[str]) -> bool:
    """True if main(argv) stops at validation, or runs a command that starts nothing."""
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            args, _rest = build_parser().parse_known_args(argv)  # as main() parses
    except SystemExit:
        return True  # usage error or --help: main exits the same way
    if args.command == "verify-suite":
        return not Path(args.topology).is_file()  # fails loading the topology, before pytest
    return args.command in _STARTS_NOTHING


@FUZZ
@given(argv=st.lists(argv_words, max_size=5))
def test_any_argv_exits_0_1_or_2_without_a_traceback(argv, tmp_path_factory):
    if not _only_validation(argv):
        event("parsed, not run (would start a mesh or a suite)")
        return
    out, err = io.StringIO(), io.StringIO()
    state = tmp_path_factory.getbasetemp() / "cli-state"
    old = os.environ.get("CASCADE_STATE_DIR")
    os.environ["CASCADE_STATE_DIR"] = str(state)  # cleanup never touches the user's runs
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as exc:
                code = exc.code
    finally:
        if old is None:
            os.environ.pop("CASCADE_STATE_DIR", None)
        else:
            os.environ["CASCADE_STATE_DIR"] = old
    event(f"ran main: exit {code}")
    assert code in (0, 1, 2), (argv, code, err.getvalue())
    assert "Traceback" not in err.getvalue() + out.getvalue()
    if code == 2:
        assert err.getvalue().strip(), argv  # a refusal always says why


# -- config documents --------------------------------------------------------------

doc_paths = st.sampled_from(["plans", "plans.names", "plans.names.0", "tiers", "tiers.first_party", "rate_limits",
                             "rate_limits.per_minute", "features", "timeouts_ms", "timeouts_ms.auth", "retry",
                             "retry.max_attempts", "breaker.failure_threshold", "", "a..b", "x.-1", "x.99"])


@st.composite
def config_documents(draw: st.DrawFn) -> Any:
    """A valid document from the services' presets, then a few keys set, removed or retyped."""
    doc: Any = default_document()
    for _ in range(draw(st.integers(0, 2))):
        path = draw(doc_paths)
        try:
            doc = apply_patch(doc, {path: draw(json_values)})
        except InvalidFault:
            pass
    return doc if draw(st.integers(0, 9)) else draw(json_values)


@FUZZ
@given(doc=config_documents())
def test_any_config_document_validates_or_names_the_bad_field(doc):
    try:
        validate_document(doc)
        event("valid")
    except InvalidConfig as exc:
        event("refused: InvalidConfig")
        assert str(exc) and "\n" not in str(exc), str(exc)


@FUZZ
@given(form=st.sampled_from(["document", "patch", "raw", "malformed", "wrong_type", "missing_section", "out_of_range", "nope"]),
       params=st.dictionaries(st.sampled_from(["document", "patch", "raw", "name", "path", "value", "x"]), json_values, max_size=3),
       base=json_values)
def test_any_bad_config_spec_builds_or_names_the_bad_parameter(form, params, base):
    try:
        fault = BadConfig.from_spec(form, **params)
        json.dumps(fault.params())
        fault.describe()
        if fault.patch is not None and isinstance(base, dict):
            apply_patch(base, fault.patch)
        event("built")
    except UsageError as exc:
        event("refused: InvalidFault")
        assert isinstance(exc, InvalidFault) and str(exc) and "\n" not in str(exc), str(exc)
