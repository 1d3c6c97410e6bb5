"""Runtimes: how a mesh runs (local processes, or Docker Compose)."""

__all__: list[str] = []  # import a runtime from its module: runtime.local, runtime.compose
