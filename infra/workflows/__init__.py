"""The example workflows: every module here with a `WORKFLOW` is one workflow.

`pyproject.toml` names this package in `[tool.testbed] workflows`; the testbed's registry
(`serverless_testbed.registry`) finds each module's `WORKFLOW` without this file listing them.
"""
