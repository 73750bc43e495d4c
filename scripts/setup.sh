#!/usr/bin/env bash
# Creates .venv and installs the project with its dev tools, once per change of pyproject.toml,
# then builds the embedded engine's own environment (serverless_testbed/engine/venv.py).
# The dev tools include the engine's packages (its plugins' unit tests import LocalStack), which
# need Python 3.13: the interpreter is $TESTBED_PYTHON, then python3.13 on PATH, then pyenv's
# 3.13 or newer. (A project that only uses the testbed needs 3.11; the engine finds a 3.13 itself.)
set -euo pipefail
cd "$(dirname "$0")/.."

ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in "${TESTBED_PYTHON:-}" python3.13 python3; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null && ok "$(command -v "$candidate")" \
      && { command -v "$candidate"; return; }
  done
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3; do
    [ -x "$candidate" ] && ok "$candidate" && { echo "$candidate"; return; }
  done
  echo "no Python 3.13 or newer found (the engine's LocalStack 4.14.0 needs it); install one or set TESTBED_PYTHON" >&2
  exit 1
}

# The report's browser test (tests/integration/report) needs Chromium: installed from the OS
# packages where setup may (as root with CI=true); elsewhere that test skips, saying why.
if [ "${CI:-}" = "true" ] && [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null && command -v apt-get >/dev/null; then
  mkdir -p build
  echo "setup: installing Chromium for the report's browser test (log: build/apt-chromium.log)"
  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } >build/apt-chromium.log 2>&1 \
    || echo "setup: Chromium not installed (see build/apt-chromium.log); the browser test will skip" >&2
fi

stamp=.venv/.installed
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && cmp -s pyproject.toml "$stamp"; then
  # The engine's environment: a check when it exists, a build (about 10 s with uv's cache) when not.
  exec .venv/bin/python -c 'import sys; from serverless_testbed.engine.venv import main; sys.exit(main())' >/dev/null
fi
python=$(find_python)
echo "setup: creating .venv with $("$python" -V) ($python)"
[ -x .venv/bin/python ] && ok .venv/bin/python || { rm -rf .venv; "$python" -m venv .venv; }
# Installed with uv (from PyPI, into .venv, about 20 s the first time), pip as the fallback
# (about 90 s); the same pins either way. Their output goes to a log, not the terminal.
log=.venv/setup.log
echo "setup: installing the project and its dev tools (log: $log)"
install_with_uv() {
  .venv/bin/python -m pip install --quiet uv \
    && .venv/bin/uv pip install --quiet --python .venv/bin/python -e '.[dev]'
}
install_with_pip() {
  .venv/bin/python -m pip install --quiet --upgrade pip && .venv/bin/python -m pip install --quiet -e '.[dev]'
}
if ! install_with_uv >"$log" 2>&1; then
  echo "setup: uv did not install the project (see $log); trying pip (about 90 s)"
  if ! install_with_pip >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "setup: pip failed; the whole log is in $log" >&2
    exit 1
  fi
fi
cp pyproject.toml "$stamp"
echo "setup: building the embedded engine's environment (once per machine)"
.venv/bin/python -c 'import sys; from serverless_testbed.engine.venv import main; sys.exit(main())'
echo "setup: done"
