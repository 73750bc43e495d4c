"""This repository's own pipelines: a project that uses serverless_testbed.

`infra/workflows/` declares the five example workflows, `infra/runs/` runs them on
generated data; `pyproject.toml` names both under `[tool.testbed]`. The testbed itself
(engine, stack model, deployer, CLI, pytest plugin) is `infra/serverless_testbed/`, the
one package the wheel installs.
"""
