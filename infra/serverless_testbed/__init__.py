"""serverless-testbed: model, deploy, host and test AWS serverless data pipelines."""
