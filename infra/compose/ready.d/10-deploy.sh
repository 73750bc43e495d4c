#!/bin/sh
# Init hook (LocalStack and Floci ready.d): deploys the testbed stack once the emulator is
# ready. The repository is mounted read-only at /opt/testbed; infra.deploy needs only
# boto3 and the standard library, which the emulator image's Python has.
set -eu

TESTBED_ROOT=${TESTBED_ROOT:-/opt/testbed}
if [ -x /opt/code/localstack/.venv/bin/python ]; then
  python=/opt/code/localstack/.venv/bin/python  # LocalStack's own venv has boto3
else
  python=python3  # Floci's -compat image
fi

if [ ! -f "$TESTBED_ROOT/infra/deploy.py" ]; then
  echo "testbed: $TESTBED_ROOT/infra/deploy.py not found; is the repository mounted at $TESTBED_ROOT?" >&2
  exit 1
fi

echo "testbed: deploying the stack with $python -m infra.deploy"
cd "$TESTBED_ROOT"
# The mount is read-only: no bytecode files, and the target is the emulator on this host.
exec env \
  PYTHONPATH="$TESTBED_ROOT" \
  PYTHONDONTWRITEBYTECODE=1 \
  TESTBED_TARGET=endpoint \
  AWS_ENDPOINT_URL=http://localhost:4566 \
  AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}" \
  AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}" \
  AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}" \
  AWS_REGION="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}" \
  "$python" -m infra.deploy
