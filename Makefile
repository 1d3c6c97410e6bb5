# The two entry points of the README's Quick start. Both set everything up first.
.PHONY: demo test setup

setup:
	@scripts/bootstrap

demo: setup
	@.venv/bin/cascade demo

test: setup
	@scripts/test
