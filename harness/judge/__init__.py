"""Judging what happened: verdicts, contracts, blast radius, the baseline gate, assertions, evidence (pure).

Modules: assertions, at_rest, blast, contracts, evidence, verdicts. Import names from them (or from `harness`).
"""

__all__: list[str] = []
