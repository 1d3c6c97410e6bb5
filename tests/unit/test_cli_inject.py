"""`cascade inject`'s input errors, before any mesh is asked: examples in the command's own word order."""

from __future__ import annotations

from harness.cli import main


def test_a_missing_parameter_is_shown_in_inject_word_order(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("CASCADE_STATE_DIR", str(tmp_path))  # no mesh is up there: nothing may be asked
    assert main(["inject", "gateway->auth", "reset_peer"]) == 2
    err = capsys.readouterr().err
    assert "reset_peer needs ms=, e.g. cascade inject 'gateway->auth' reset_peer ms=100" in err
    assert "no mesh is up" not in err  # refused before looking for a mesh


def test_the_same_error_from_a_fault_line_keeps_the_line_order():
    import pytest

    from harness import parse_fault
    from harness.errors import InvalidFault

    with pytest.raises(InvalidFault, match=r"^reset_peer needs ms=, e.g. 'reset_peer gateway->auth ms=100'$"):
        parse_fault("reset_peer gateway->auth")
