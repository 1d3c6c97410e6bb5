"""The resilience suite: what we claim about the bundled mesh, one file per family of faults."""
