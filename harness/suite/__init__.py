"""Running a suite: verify (resilient passes, brittle fails), soak, failure classification.

Modules: confirm, soak, verify. Import names from them (or from `harness`).
"""

__all__: list[str] = []
