"""Unit tests of the services' mode and knob parsing and their start-up environment (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.topology import load_topology
from services.common.env import load_env
from services.common.errors import StartupError
from services.common.knobs import KNOBS, Knobs, parse_knobs

TOPOLOGY = Path(__file__).parents[2] / "services" / "topology.toml"


def test_resilient_has_no_brittle_knob():
    knobs = parse_knobs("resilient", "")
    assert knobs == Knobs()
    assert not any(knobs.is_brittle(k) for k in KNOBS)
    assert knobs.names == []


def test_brittle_without_a_list_switches_every_knob():
    knobs = parse_knobs("brittle", "")
    assert knobs.mode == "brittle"
    assert knobs.names == list(KNOBS)


def test_brittle_with_a_list_switches_only_those_in_canonical_order():
    knobs = parse_knobs("brittle", " retries , timeouts")
    assert knobs.names == ["timeouts", "retries"]
    assert knobs.is_brittle("retries") and not knobs.is_brittle("fallbacks")


def test_an_unknown_knob_is_a_startup_error_naming_the_known_ones():
    with pytest.raises(StartupError, match="unknown knob 'retry'; knobs are: timeouts, retries, breakers"):
        parse_knobs("brittle", "retry")


def test_an_unknown_mode_is_a_startup_error():
    with pytest.raises(StartupError, match="CASCADE_MODE='fragile' is not a mode; modes are: resilient, brittle"):
        parse_knobs("fragile", "")


def test_knobs_in_resilient_mode_are_a_contradiction():
    with pytest.raises(StartupError, match="needs CASCADE_MODE=brittle"):
        parse_knobs("resilient", "timeouts")


def test_asking_about_a_misspelt_knob_fails_loudly_instead_of_reading_resilient():
    with pytest.raises(KeyError, match="unknown knob 'timeout'"):
        Knobs().is_brittle("timeout")


def test_the_topology_declares_exactly_the_knobs_the_services_understand():
    assert load_topology(TOPOLOGY).knobs == KNOBS


ENV = {"HOST": "127.0.0.1", "PORT": "4100", "CONFIG_URL": "http://127.0.0.1:41003/",
       "REDIS_URL": "redis://127.0.0.1:41007/0", "CASCADE_MODE": "brittle", "CASCADE_BRITTLE": "fallbacks"}


def test_env_reads_each_dependency_from_its_variable():
    env = load_env(ENV, "auth", ("config", "redis"))
    assert env.deps == {"config": "http://127.0.0.1:41003", "redis": "redis://127.0.0.1:41007/0"}
    assert (env.host, env.port, env.knobs.names) == ("127.0.0.1", 4100, ["fallbacks"])


def test_a_missing_dependency_variable_is_named():
    with pytest.raises(StartupError, match="gateway: AUTH_URL is not set; it must carry auth's address"):
        load_env(ENV, "gateway", ("config", "auth"))


def test_a_bad_port_is_named():
    with pytest.raises(StartupError, match="PORT must be a port number, got 'x'"):
        load_env({**ENV, "PORT": "x"}, "auth")


def test_the_config_service_needs_its_token_and_never_shows_it():
    with pytest.raises(StartupError, match="CASCADE_CONFIG_TOKEN is not set"):
        load_env(ENV, "config", needs_token=True)
    env = load_env({**ENV, "CASCADE_CONFIG_TOKEN": "s3cret"}, "config", needs_token=True)
    assert "s3cret" not in repr(env)
