# The two entry points of the README's Quick start (demo, test), both setting everything up first;
# `make lock` after editing dependencies in pyproject.toml; `make test-latest` to see what the newest
# versions the ranges allow would do (a report, not the gate).
.PHONY: demo test setup lock test-latest

setup:
	@scripts/bootstrap

demo: setup
	@.venv/bin/cascade demo

test: setup
	@scripts/test

lock:
	@scripts/lock

test-latest: setup
	@scripts/test-latest
