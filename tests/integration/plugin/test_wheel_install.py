"""The wheel installed into somebody else's project, as a user would: `pip install` into a
fresh venv of the lowest supported Python (3.11) that already holds the PyPI `fixtures`
package and a cryptography newer than LocalStack's pin, for a project with an `infra/`
package of its own.

Installing changes none of the project's packages and breaks none of its imports; the
wheel holds one top-level package. Then, in that project: `testbed new workflow`, `up`
(the engine runs on a Python 3.13 of the machine, in its own environment), `deploy`,
`run`, the scaffolded tests through the plugin, `down`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from serverless_testbed.engine import Engine
from serverless_testbed.registry import stack_for

REPO = Path(__file__).resolve().parents[3]
LOWEST = (3, 11)
# Building the wheel, a venv, pip installing from PyPI; an engine start; the scaffolded tests.
STEP_TIMEOUT = 600
# What the user's project holds before the testbed comes: an infra/ package (CDK-style) and a
# test that imports it and the PyPI `fixtures` package.
OWN_MODULE = 'def private_cidr() -> str:\n    return "10.0.0.0/16"\n'
OWN_TEST = """\
from fixtures import TempDir

from infra.network import private_cidr


def test_the_projects_own_packages_import():
    assert private_cidr() == "10.0.0.0/16"
    assert TempDir.__module__.startswith("fixtures")
"""


def run(command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run to the end, whatever the exit code."""
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)


def must(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"{' '.join(map(str, result.args))} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    return result


def lowest_python() -> str:
    """An interpreter of the lowest supported version: python3.11 on PATH, else pyenv's
    ($TESTBED_WHEEL_PYTHON names another, to show a newer one)."""
    if os.environ.get("TESTBED_WHEEL_PYTHON"):
        return os.environ["TESTBED_WHEEL_PYTHON"]
    name = f"python{LOWEST[0]}.{LOWEST[1]}"
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    for candidate in [
        shutil.which(name),
        *sorted(str(p) for p in pyenv.glob(f"{LOWEST[0]}.{LOWEST[1]}.*/bin/python3")),
    ]:
        if candidate:
            return candidate
    pytest.fail(f"no {name} on PATH or in pyenv: the wheel must be shown on the lowest supported Python")


def freeze(python: Path, env: dict[str, str]) -> dict[str, str]:
    lines = must(run([str(python), "-m", "pip", "freeze", "--all"], cwd=python.parent, env=env)).stdout.splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line)


class UserProject:
    """A fresh venv (3.11) and a project folder, with the testbed's wheel installed."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        self.base, self.env = base, env
        self.venv = base / "venv"
        self.python = self.venv / "bin" / "python"
        self.root = base / "project"
        self.before: dict[str, str] = {}
        self.after: dict[str, str] = {}
        self.wheel = Path()
        self.install_seconds = 0.0

    def testbed(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([str(self.venv / "bin" / "testbed"), *args], cwd=self.root, env=self.env)

    def pytest(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run([str(self.python), "-m", "pytest", "-p", "no:cacheprovider", *args], cwd=self.root, env=self.env)


@pytest.fixture(scope="module")
def user_project(tmp_path_factory: pytest.TempPathFactory) -> UserProject:
    base = tmp_path_factory.mktemp("user")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "TESTBED_", "LOCALSTACK_", "PYTEST_", "VIRTUAL_ENV")) and key != "PYTHONPATH"
    }
    env.update({"PIP_DISABLE_PIP_VERSION_CHECK": "1", "COLUMNS": "500"})
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = str(base / "no-aws-config")
    project = UserProject(base, env)
    env["PATH"] = f"{project.venv / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}"
    must(
        run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(REPO)],
            cwd=base,
            env=env,
        )
    )
    (project.wheel,) = (base / "dist").glob("serverless_testbed-*.whl")
    must(run([lowest_python(), "-m", "venv", str(project.venv)], cwd=base, env=env))
    # What such a project may already hold: the testing-cabal `fixtures`, a current cryptography.
    must(run([str(project.python), "-m", "pip", "install", "-q", "fixtures", "cryptography>=44"], cwd=base, env=env))
    (project.root / "infra").mkdir(parents=True)
    (project.root / "infra" / "__init__.py").write_text('"""The project\'s own infrastructure code."""\n')
    (project.root / "infra" / "network.py").write_text(OWN_MODULE)
    (project.root / "tests").mkdir()
    (project.root / "tests" / "test_own.py").write_text(OWN_TEST)
    project.before = freeze(project.python, env)
    started = time.monotonic()
    must(run([str(project.python), "-m", "pip", "install", "-q", str(project.wheel)], cwd=base, env=env))
    project.install_seconds = time.monotonic() - started
    project.after = freeze(project.python, env)
    return project


def test_the_wheel_holds_one_package_its_license_and_metadata(user_project: UserProject):
    with zipfile.ZipFile(user_project.wheel) as wheel:
        names = wheel.namelist()
        (metadata_name,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata = wheel.read(metadata_name).decode()
    tops = {name.split("/")[0] for name in names}
    assert tops == {"serverless_testbed", metadata_name.split("/")[0]}, (
        f"the wheel installs more than one package: {tops}"
    )
    assert "serverless_testbed/py.typed" in names
    assert "serverless_testbed/engine/requirements.txt" in names
    assert any(name.endswith(".dist-info/licenses/LICENSE") for name in names)
    assert "License-Expression: Apache-2.0" in metadata
    assert "Requires-Python: >=3.11" in metadata
    assert "Classifier: Framework :: Pytest" in metadata
    assert "localstack" not in "".join(
        line for line in metadata.splitlines() if line.startswith("Requires-Dist") and "extra" not in line
    )


def test_installing_it_changes_none_of_the_projects_packages(user_project: UserProject):
    changed = {
        name: (version, user_project.after.get(name))
        for name, version in user_project.before.items()
        if user_project.after.get(name) != version
    }
    assert changed == {}, f"installing the testbed changed the project's packages (before, after): {changed}"
    must(run([str(user_project.python), "-m", "pip", "check"], cwd=user_project.base, env=user_project.env))
    added = sorted(set(user_project.after) - set(user_project.before))
    print(f"\nwheel install into a fresh venv: {len(added)} packages added in {user_project.install_seconds:.1f} s")


def test_the_projects_own_infra_and_fixtures_still_import(user_project: UserProject):
    result = must(user_project.pytest("tests/test_own.py"))
    assert "1 passed" in result.stdout, result.stdout


def test_version_is_one_line(user_project: UserProject):
    result = must(user_project.testbed("--version"))
    assert result.stdout.strip().startswith("testbed 0."), result.stdout
    assert len(result.stdout.strip().splitlines()) == 1


def test_outside_any_project_commands_say_where_they_looked(user_project: UserProject, tmp_path: Path):
    nowhere = tmp_path / "not-a-project"
    nowhere.mkdir()
    result = run(
        [str(user_project.venv / "bin" / "testbed"), "export", "cloudformation", "--out", str(tmp_path / "t.json")],
        cwd=nowhere,
        env=user_project.env,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"export outside a project succeeded:\n{output}"
    assert "Traceback" not in output, output
    assert "no project root" in output, output
    assert "TESTBED_PROJECT_ROOT" in output, output


def test_deploy_plan_from_the_wheel_reads_the_project_it_runs_in(
    user_project: UserProject, engine: Engine, tmp_path: Path
):
    """Run in this repository, the wheel's testbed plans this repository's workflows."""
    if not engine.endpoint_url:
        pytest.skip("the plan is read from an emulator's endpoint")
    env = {**user_project.env, "TESTBED_TARGET": "endpoint", "AWS_ENDPOINT_URL": engine.endpoint_url}
    env["TESTBED_STATE_DIR"] = str(tmp_path / "state")
    command = [str(user_project.venv / "bin" / "testbed"), "deploy", "--plan", "--prefix", "wheelplan"]
    result = run(command, cwd=REPO, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"deploy --plan from the wheel exited {result.returncode}:\n{output}"
    for function in (f for f in stack_for().resources if f.kind == "function"):
        assert f"wheelplan-{function.name}" in output, f"the plan does not create function {function.name}:\n{output}"


@pytest.mark.slow
def test_a_new_workflow_in_the_project_deploys_runs_and_passes_its_tests(user_project: UserProject):
    empty = user_project.testbed("deploy")
    assert empty.returncode != 0, empty.stdout + empty.stderr
    assert "testbed new workflow NAME" in empty.stderr, empty.stderr
    assert len(empty.stderr.strip().splitlines()) == 1, empty.stderr
    must(user_project.testbed("new", "workflow", "invoices"))
    assert (user_project.root / "pipelines" / "workflows" / "invoices.py").is_file()
    assert (user_project.root / "infra" / "network.py").read_text() == OWN_MODULE
    started = time.monotonic()
    up = must(user_project.testbed("up"))
    first_up = time.monotonic() - started
    try:
        must(user_project.testbed("deploy"))
        ran = must(user_project.testbed("run", "invoices"))
        assert "as expected" in ran.stdout, ran.stdout
        status = must(user_project.testbed("status"))
        assert "workflow invoices" in status.stdout, status.stdout
        assert "workflow orders" not in status.stdout, status.stdout
        tests = must(user_project.pytest())
        assert " passed" in tests.stdout, tests.stdout
        assert "failed" not in tests.stdout, tests.stdout
    finally:
        down = user_project.testbed("down")
    must(down)
    print(f"\ntestbed up in the user's project: {first_up:.1f} s ({up.stdout.strip().splitlines()[0]})")
