"""The engine's own environment (serverless_testbed/engine/venv.py): what it is built from,
which Python runs it, reuse, and a build that fails or is interrupted leaving nothing."""

from __future__ import annotations

import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from serverless_testbed.engine import venv
from serverless_testbed.errors import EngineError, EngineUnavailable

ROOT = Path(__file__).resolve().parents[2]


def test_the_requirements_and_the_engine_extra_agree():
    extra = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]["engine"]
    assert venv.requirements() == extra


def test_a_named_interpreter_too_old_is_refused_in_one_line(tmp_path: Path):
    old = tmp_path / "python"
    old.symlink_to(sys.executable)
    env = {venv.ENGINE_PYTHON_VAR: str(old), "PATH": ""}
    if sys.version_info[:2] >= venv.ENGINE_PYTHON:
        assert venv.find_engine_python(env).version.startswith(f"{sys.version_info[0]}.{sys.version_info[1]}")
    missing = {venv.ENGINE_PYTHON_VAR: str(tmp_path / "nope"), "PATH": ""}
    with pytest.raises(EngineUnavailable, match=rf"\${venv.ENGINE_PYTHON_VAR}=.*nope is not a Python 3\.13") as err:
        venv.find_engine_python(missing)
    assert "\n" not in str(err.value)


def test_no_interpreter_anywhere_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(venv, "ENGINE_PYTHON", (3, 99))  # nothing on this machine is that new
    with pytest.raises(EngineUnavailable, match=r"needs Python 3\.99 .* install python3\.13") as err:
        venv.find_engine_python({"PATH": str(tmp_path), "PYENV_ROOT": str(tmp_path)})
    assert "\n" not in str(err.value)
    assert venv.ENGINE_PYTHON_VAR in str(err.value)


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, str]:
    """A cache folder of its own, and this interpreter taken as the engine's."""
    return {venv.CACHE_VAR: str(tmp_path / "cache"), venv.ENGINE_PYTHON_VAR: sys.executable, "PATH": ""}


def test_a_built_environment_is_reused_without_building(cache: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    if sys.version_info[:2] < venv.ENGINE_PYTHON:
        pytest.skip("this interpreter cannot stand in for the engine's")
    path = venv.cache_root(cache) / "engines" / venv.venv_key(venv.find_engine_python(cache))
    (path / "bin").mkdir(parents=True)
    (path / "bin" / "python").symlink_to(sys.executable)
    (path / venv.MARKER).write_text(json.dumps({"botocore": "1.2.3", "python": "3.13.0"}))
    monkeypatch.setattr(venv, "_build", lambda *a, **k: pytest.fail("built although one exists"))
    assert venv.engine_venv(cache) == venv.EngineVenv(path, "1.2.3")


def test_a_failed_build_says_where_its_log_is_and_leaves_nothing(
    cache: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    if sys.version_info[:2] < venv.ENGINE_PYTHON:
        pytest.skip("this interpreter cannot stand in for the engine's")
    cache[venv.UV_VAR] = "/bin/false"
    said: list[str] = []
    with pytest.raises(EngineError, match=r"could not build the engine's environment .* the whole log: .*\.log"):
        venv.engine_venv(cache, say=said.append)
    engines = venv.cache_root(cache) / "engines"
    assert [p.name for p in engines.iterdir() if p.is_dir()] == [], "no half-built environment is left"
    assert said
    assert "building the engine's environment" in said[0]


def test_an_interrupted_build_leaves_nothing(cache: dict[str, str], monkeypatch: pytest.MonkeyPatch):
    if sys.version_info[:2] < venv.ENGINE_PYTHON:
        pytest.skip("this interpreter cannot stand in for the engine's")

    real_run = venv.subprocess.run

    def interrupted(command: list[str], *args: object, **kwargs: object) -> object:
        if command[0] == "/bin/true":  # the build's uv, not the interpreter probe
            raise KeyboardInterrupt
        return real_run(command, *args, **kwargs)

    cache[venv.UV_VAR] = "/bin/true"
    monkeypatch.setattr(venv.subprocess, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        venv.engine_venv(cache, say=lambda line: None)
    engines = venv.cache_root(cache) / "engines"
    assert [p.name for p in engines.iterdir() if p.is_dir()] == []
    assert not list(engines.glob("*.requirements.txt"))


def test_the_engine_sees_this_package_and_its_localstack_entry_points_only(tmp_path: Path):
    folder = venv.plugin_path(tmp_path / "python")
    (info,) = [p.name for p in folder.iterdir() if p.name.endswith(".dist-info")]
    assert {p.name for p in folder.iterdir()} == {"serverless_testbed", info}
    assert (folder / "serverless_testbed" / "engine" / "venv.py").is_file()
    (dist,) = list(metadata.distributions(path=[str(folder)]))
    groups = {entry.group for entry in dist.entry_points}
    assert "localstack.lambda.runtime_executor" in groups
    assert all(group.startswith("localstack.") for group in groups), groups
    names = {entry.name for entry in dist.entry_points}
    assert {"local-process", "dynamodb:moto", "testbed_iam"} <= names
