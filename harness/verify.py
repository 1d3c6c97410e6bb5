"""Moved to harness.suite.verify; this path keeps old imports working."""

from .suite.verify import Matrix, matrix_text, parse_junit, run_matrix

__all__ = ["Matrix", "matrix_text", "parse_junit", "run_matrix"]
