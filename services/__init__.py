"""Chirp: the bundled miniature social network that Cascade's resilience suite runs against."""
