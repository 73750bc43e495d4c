"""The runners of the example workflows: `testbed run <workflow>` and `testbed demo`.

Each workflow's `WORKFLOW.runner` names its function here (`serverless_testbed.runs` says
what a runner takes and returns).
"""
