#!/usr/bin/env bash
# Creates .venv with Python 3.12+ and installs the project, once per change of pyproject.toml.
# Finds the interpreter by itself: $TESTBED_PYTHON, then python3.13/python3.12/python3 on PATH,
# then pyenv's versions.
set -euo pipefail
cd "$(dirname "$0")/.."

ok() { "$1" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; }

find_python() {
  local candidate
  for candidate in "${TESTBED_PYTHON:-}" python3.13 python3.12 python3; do
    [ -n "$candidate" ] && command -v "$candidate" >/dev/null && ok "$(command -v "$candidate")" \
      && { command -v "$candidate"; return; }
  done
  for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3 \
                   "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3; do
    [ -x "$candidate" ] && ok "$candidate" && { echo "$candidate"; return; }
  done
  echo "no Python 3.12 or newer found; install one or set TESTBED_PYTHON" >&2
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
  exit 0
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
echo "setup: done"
