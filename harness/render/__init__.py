"""Renderers: a topology written out for another platform, one module per target (k8s.py: Kubernetes manifests).

A renderer is pure (topology and what was read for it in, file name -> documents out); the CLI
(`cascade render TARGET`) reads the inputs and writes the files. Nothing here runs anything.
"""

__all__: list[str] = []
