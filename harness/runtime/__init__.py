"""Runtimes: how a mesh runs (local processes, or Docker Compose)."""
