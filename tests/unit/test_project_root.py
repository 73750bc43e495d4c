"""Where asl/ and src/ are: a setting, then $TESTBED_PROJECT_ROOT, then upward from the
working directory, then the checkout this package was installed from."""

from __future__ import annotations

from pathlib import Path

import pytest
from serverless_testbed import project
from serverless_testbed.project import ROOT_VAR, ProjectNotFound, find_root, use_root
from serverless_testbed.stack.model import Function, StateMachine

CHECKOUT = Path(project.__file__).resolve().parents[2]


def make_project(path: Path) -> Path:
    (path / "asl").mkdir(parents=True)
    (path / "src").mkdir()
    return path


@pytest.fixture(autouse=True)
def no_root_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ROOT_VAR, raising=False)
    # Nor the session's own setting: the plugin's deployer fixture holds `use_root` while it lives.
    monkeypatch.setattr(project, "_explicit", None)


def test_the_nearest_project_upward_from_the_working_directory(tmp_path, monkeypatch):
    root = make_project(tmp_path / "mine")
    (root / "tests" / "deep").mkdir(parents=True)
    monkeypatch.chdir(root / "tests" / "deep")
    assert find_root() == root.resolve()


def test_the_variable_beats_the_working_directory(tmp_path, monkeypatch):
    here = make_project(tmp_path / "here")
    named = make_project(tmp_path / "named")
    monkeypatch.chdir(here)
    monkeypatch.setenv(ROOT_VAR, str(named))
    assert find_root() == named.resolve()


def test_a_setting_beats_the_variable(tmp_path, monkeypatch):
    named = make_project(tmp_path / "named")
    chosen = make_project(tmp_path / "chosen")
    monkeypatch.setenv(ROOT_VAR, str(named))
    assert find_root(chosen) == chosen.resolve()
    with use_root(chosen):
        assert find_root() == chosen.resolve()
    assert find_root() == named.resolve()


def test_outside_any_project_the_checkout_answers(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert find_root() == CHECKOUT


def test_a_named_root_without_asl_and_src_is_refused(tmp_path, monkeypatch):
    (tmp_path / "asl").mkdir()
    monkeypatch.setenv(ROOT_VAR, str(tmp_path))
    with pytest.raises(
        ProjectNotFound, match=r"\$TESTBED_PROJECT_ROOT names .* holds neither asl/ and src/ nor \[tool.testbed\]"
    ):
        find_root()
    with pytest.raises(ProjectNotFound, match="the project root setting"):
        find_root(tmp_path)


def test_no_project_and_no_checkout_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        project, "__file__", str(tmp_path / "lib" / "site-packages" / "serverless_testbed" / "project.py")
    )
    with pytest.raises(ProjectNotFound, match=f"no project root: no directory from {tmp_path} upward"):
        find_root()


def test_functions_and_state_machines_read_the_project_root(tmp_path):
    root = make_project(tmp_path / "other")
    (root / "src" / "fn").mkdir()
    (root / "src" / "fn" / "handler.py").write_text("def handler(event, context):\n    return event\n")
    (root / "asl" / "m.asl.json").write_text('{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}')
    with use_root(root):
        assert Function("fn", source="fn").package
        assert StateMachine("m", asl="m.asl.json").template().startswith('{"StartAt"')
        with pytest.raises(FileNotFoundError, match=f"no source folder {root.resolve()}/src/check_transaction"):
            _ = Function("check", source="check_transaction").package
