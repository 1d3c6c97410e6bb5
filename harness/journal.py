"""Moved to harness.explore.journal; this path keeps old imports working."""

from .explore.journal import JOURNAL_DIR, Journal, Removal, Replay, replay, run_steps, scenario_text

__all__ = ["JOURNAL_DIR", "Journal", "Removal", "Replay", "replay", "run_steps", "scenario_text"]
