"""Moved to harness.explore.pool; this path keeps old imports working."""

from .explore.pool import ExploreSpec, MAX_WORKERS, check_workers, explore, worker_seed

__all__ = ["ExploreSpec", "MAX_WORKERS", "check_workers", "explore", "worker_seed"]
