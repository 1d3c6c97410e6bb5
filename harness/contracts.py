"""Moved to harness.judge.contracts; this path keeps old imports working."""

from .judge.contracts import (  # noqa: F401 - re-exported
    Contract,
    ContractResult,
    DEFAULT_TOUCHED,
    UNTOUCHED,
    acceptable,
    check,
    confirm_alone,
    contract_for,
    frozen_by,
)

__all__ = [
    "Contract",
    "ContractResult",
    "DEFAULT_TOUCHED",
    "UNTOUCHED",
    "acceptable",
    "check",
    "confirm_alone",
    "contract_for",
    "frozen_by",
]
