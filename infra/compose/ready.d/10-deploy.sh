#!/bin/sh
# Init hook (LocalStack's ready.d): deploys the testbed stack once LocalStack is
# ready. The repository is mounted read-only at /opt/testbed; serverless_testbed.deploy needs only
# boto3 and the standard library, which the emulator image's Python has.
set -eu

TESTBED_ROOT=${TESTBED_ROOT:-/opt/testbed}
if [ -x /opt/code/localstack/.venv/bin/python ]; then
  python=/opt/code/localstack/.venv/bin/python  # LocalStack's own venv has boto3
else
  python=python3  # another image: its python3 (3.12 or newer) with boto3
fi

if [ ! -f "$TESTBED_ROOT/infra/serverless_testbed/deploy.py" ]; then
  echo "testbed: $TESTBED_ROOT/infra/serverless_testbed/deploy.py not found; is the repository mounted at $TESTBED_ROOT?" >&2
  exit 1
fi

echo "testbed: deploying the stack with $python -m serverless_testbed.deploy"
cd "$TESTBED_ROOT"
# The mount is read-only: no bytecode files, and the target is the emulator on this host.
status=0
env \
  PYTHONPATH="$TESTBED_ROOT/infra:$TESTBED_ROOT" \
  PYTHONDONTWRITEBYTECODE=1 \
  TESTBED_TARGET=endpoint \
  AWS_ENDPOINT_URL=http://localhost:4566 \
  AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" \
  AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}" \
  AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
  AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}" \
  "$python" -m serverless_testbed.deploy || status=$?
if [ "$status" -ne 0 ]; then
  # LocalStack marks the script ERROR and carries on; the healthcheck then says unhealthy.
  echo "testbed: the deploy FAILED (exit $status); the lines above say why." >&2
  echo "testbed: fix the cause, then: docker compose restart localstack" >&2
  exit "$status"
fi
echo "testbed: the stack is deployed"
