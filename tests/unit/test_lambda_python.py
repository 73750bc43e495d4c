"""Which Python runs a function, what it imports beside its code, and how its results are encoded."""

from __future__ import annotations

import decimal
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from serverless_testbed.localstack_plugins import lambda_python
from serverless_testbed.localstack_plugins.lambda_python import (
    find_interpreter,
    interpreter_for,
    runtime_version,
)
from serverless_testbed.localstack_plugins.lambda_worker import Paths, to_json


def test_runtime_versions():
    assert runtime_version("python3.12") == (3, 12)
    assert runtime_version("python3.9") == (3, 9)
    assert runtime_version("nodejs20.x") is None


def test_a_version_under_pyenv_is_found_even_off_path(tmp_path: Path):
    real = find_interpreter((3, 12))
    if real is None:
        pytest.skip("no Python 3.12 on this machine (PATH or pyenv)")
    fake_bin = tmp_path / "pyenv" / "versions" / "3.12.1" / "bin"
    fake_bin.mkdir(parents=True)
    (fake_bin / "python3.12").symlink_to(real)
    found = find_interpreter((3, 12), {"PATH": str(tmp_path / "empty"), "PYENV_ROOT": str(tmp_path / "pyenv")})
    assert found is not None
    version = subprocess.run([found, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True)
    assert version.stdout.strip() == "(3, 12)"


def test_a_missing_version_runs_on_the_engines_python_with_one_warning(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger=lambda_python.__name__)
    runtime = "python3.98"  # no such Python anywhere
    assert interpreter_for(runtime) == sys.executable
    assert interpreter_for(runtime) == sys.executable
    warnings = [record.getMessage() for record in caplog.records if runtime in record.getMessage()]
    assert len(warnings) == 1
    assert f"running it on Python {sys.version_info[0]}.{sys.version_info[1]}" in warnings[0]


def test_results_are_encoded_as_awslambdaric_does(monkeypatch: pytest.MonkeyPatch):
    value = {"n": decimal.Decimal("42"), "f": decimal.Decimal("0.10"), "x": decimal.Decimal("-nan"), "s": "£1"}
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.12")
    assert to_json(value) == '{"n": 42, "f": 0.10, "x": NaN, "s": "£1"}'
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.11")
    assert to_json(value) == '{"n": 42, "f": 0.10, "x": NaN, "s": "\\u00a31"}'
    with pytest.raises(TypeError, match="Object of type bytes is not JSON serializable"):
        to_json({"b": b"x"})


def test_paths_show_where_aws_keeps_the_code():
    paths = Paths(
        [("/tmp/env/code", "/var/task"), ("/tmp/env/layer/python", "/opt/python"), ("/tmp/env/layer", "/opt")]
    )
    assert paths.show("/tmp/env/code/handler.py") == "/var/task/handler.py"
    assert paths.show("/tmp/env/layer/python/lib.py") == "/opt/python/lib.py"
    assert paths.show("/tmp/env/codex/other.py") == "/tmp/env/codex/other.py"


def test_a_namedtuple_is_an_array_here_where_awslambdaric_writes_an_object():
    # awslambdaric encodes with simplejson (namedtuple_as_object); the worker has the stdlib only.
    from collections import namedtuple

    point = namedtuple("point", "x y")
    assert to_json(point(1, 2)) == "[1, 2]"
