# The two commands of the README: `make demo` (the main job) and `make test`.
.PHONY: setup demo test unit lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/testbed demo

test: setup
	.venv/bin/python -m pytest

unit: setup
	.venv/bin/python -m pytest -m unit

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy

bench: setup
	.venv/bin/testbed bench
