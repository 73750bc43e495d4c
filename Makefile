# The two commands of the README: `make demo` (the main job) and `make test`.
.PHONY: setup demo test unit lint bench

setup:
	@bash scripts/setup.sh

demo: setup
	.venv/bin/testbed demo

# The workflow suites run twice: as they are, then on the embedded engine in stock mode (no
# fidelity patch), which answers as a stock LocalStack 4.14.0 container does (docs/targets.md).
WORKFLOW_TESTS = tests/integration/orders tests/integration/sales tests/integration/processing \
	tests/integration/router tests/integration/csv_etl

# One pytest-xdist worker per core, each a session with an engine of its own; a test file stays
# on one worker. The coverage table and pictures are the sum of the workers' (infra/serverless_testbed/pytest_plugin.py).
PARALLEL = -n auto --dist loadfile

test: setup
	TESTBED_OWN_ENGINE=1 .venv/bin/python -m pytest $(PARALLEL)
	@echo "== the workflow suites again, TESTBED_ENGINE_MODE=stock: what a stock LocalStack 4.14.0 container answers"
	TESTBED_OWN_ENGINE=1 TESTBED_ENGINE_MODE=stock .venv/bin/python -m pytest $(PARALLEL) $(WORKFLOW_TESTS)

unit: setup
	.venv/bin/python -m pytest -m unit

# This repository's own workflows (pyproject.toml [tool.testbed]); the package itself is mypy's default.
PROJECT_CODE = infra/workflows infra/runs fixtures

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy && .venv/bin/mypy --no-explicit-package-bases $(PROJECT_CODE)

bench: setup
	.venv/bin/testbed bench
