"""Moved to harness.report.allure_generator; this path keeps old imports working."""

from .report.allure_generator import ALLURE_VERSION, allure_cache, find_generator, generate

__all__ = ["ALLURE_VERSION", "allure_cache", "find_generator", "generate"]
