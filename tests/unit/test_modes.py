"""Mode strings: resilient, brittle (every knob), brittle:k1,k2 — unknown ones named."""

import pytest

from harness.errors import InvalidMode
from harness.modes import Mode, parse_mode

KNOBS = ("timeouts", "retries", "fallbacks")


def test_resilient_has_no_knobs():
    assert parse_mode("resilient", KNOBS) == Mode("resilient")
    assert parse_mode("resilient", KNOBS).env() == {"CASCADE_MODE": "resilient", "CASCADE_BRITTLE": ""}


def test_brittle_alone_means_every_knob():
    m = parse_mode("brittle", KNOBS)
    assert m.knobs == frozenset(KNOBS)
    assert m.env()["CASCADE_BRITTLE"] == "fallbacks,retries,timeouts"


def test_brittle_with_chosen_knobs():
    m = parse_mode("brittle: timeouts , fallbacks", KNOBS)
    assert m.knobs == {"timeouts", "fallbacks"}
    assert str(m) == "brittle:fallbacks,timeouts"


@pytest.mark.parametrize("text, message", [
    ("chaotic", "unknown mode 'chaotic'"),
    ("brittle:speed", "unknown brittle knob 'speed' in mode 'brittle:speed'; knobs are: timeouts, retries, fallbacks"),
    ("resilient:timeouts", "unknown mode"),
    ("", "unknown mode ''"),
])
def test_bad_modes_are_named(text, message):
    with pytest.raises(InvalidMode) as info:
        parse_mode(text, KNOBS)
    assert message in str(info.value)


def test_brittle_needs_declared_knobs():
    with pytest.raises(InvalidMode, match="declare"):
        parse_mode("brittle", ())


def test_knobs_env_repeats_the_brittle_knobs_in_the_systems_own_variable():
    assert parse_mode("brittle:timeouts,fallbacks", KNOBS).env("SHOP_NAIVE") == {
        "CASCADE_MODE": "brittle", "CASCADE_BRITTLE": "fallbacks,timeouts", "SHOP_NAIVE": "fallbacks,timeouts"}
    # resilient sets it empty, over whatever the runner's environment had
    assert parse_mode("resilient", KNOBS).env("SHOP_NAIVE")["SHOP_NAIVE"] == ""
    assert "SHOP_NAIVE" not in parse_mode("brittle", KNOBS).env()
