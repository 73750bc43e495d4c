"""Scaffolding: `testbed new workflow NAME` writes a working workflow from templates.

`serverless_testbed.scaffold.workflow` checks the name and writes the files; `serverless_testbed.scaffold.render`
fills the templates under `templates/`. Only the standard library and the workflow
registry are imported, so `testbed new` needs no engine and no boto3.
"""
