"""Moved to harness.judge.blast; this path keeps old imports working."""

from .judge.blast import BlastRadius, Cascade, blast_radius, find_cascades, service_chain

__all__ = ["BlastRadius", "Cascade", "blast_radius", "find_cascades", "service_chain"]
