"""Moved to harness.judge.evidence; this path keeps old imports working."""

from .judge.evidence import EvidenceRow, evidence_rows, evidence_table, render_failure, timeline_table

__all__ = ["EvidenceRow", "evidence_rows", "evidence_table", "render_failure", "timeline_table"]
