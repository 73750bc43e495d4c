"""A non-editable install deploys: the wheel carries no asl/ or src/, so `testbed deploy`
takes them from the project it runs in (the working directory), not from site-packages.

The wheel goes into a fresh venv of this interpreter's base Python with no dependencies
of its own; a .pth line lends it this venv's site-packages (installing boto3, LocalStack
and the rest again would take minutes). That .pth is no site directory, so this venv's
editable-install hook is not read: `infra` comes from the wheel.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from infra.engine import Engine
from infra.workflows import stack_for

REPO = Path(__file__).resolve().parents[3]
# Building the wheel and a venv, and pip installing into it.
STEP_TIMEOUT = 180


def run(command: list[str], *, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run to the end, whatever the exit code."""
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT, check=False)


def must(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, (
        f"{' '.join(result.args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )
    return result


@pytest.fixture(scope="module")
def wheel_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding this project as a built wheel (not editable)."""
    base = tmp_path_factory.mktemp("wheel")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    python = Path(sys.executable)
    must(
        run(
            [str(python), "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(base / "dist"), str(REPO)],
            cwd=base,
            env=env,
        )
    )
    (wheel,) = (base / "dist").glob("serverless_testbed-*.whl")
    venv = base / "venv"
    must(run([sys._base_executable, "-m", "venv", str(venv)], cwd=base, env=env))
    must(run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], cwd=base, env=env))
    purelib = Path(
        must(
            run(
                [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                cwd=base,
                env=env,
            )
        ).stdout.strip()
    )
    (purelib / "zz_testbed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_the_wheel_holds_no_project_folders_and_imports_from_the_venv(wheel_venv: Path, outside_env: dict[str, str]):
    result = must(
        run(
            [str(wheel_venv / "bin" / "python"), "-c", "import infra; print(infra.__file__)"],
            cwd=REPO.parent,
            env=outside_env,
        )
    )
    package = Path(result.stdout.strip()).parent
    assert package.is_relative_to(wheel_venv), f"expected infra from the wheel in {wheel_venv}, saw {package}"
    assert not (package.parent / "src").exists()
    assert not (package.parent / "asl").exists()


@pytest.mark.slow
def test_deploy_plan_from_a_wheel_install_reads_the_project_it_runs_in(
    wheel_venv: Path, outside_env: dict[str, str], engine: Engine
):
    if not engine.endpoint_url:
        pytest.skip("the plan is read from an emulator's endpoint")
    env = {**outside_env, "TESTBED_TARGET": "endpoint", "AWS_ENDPOINT_URL": engine.endpoint_url}
    # A prefix of its own: nothing of it is deployed, so the plan creates everything.
    command = [str(wheel_venv / "bin" / "testbed"), "deploy", "--plan", "--prefix", "wheelplan"]
    result = run(command, cwd=REPO, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"deploy --plan from the wheel exited {result.returncode}:\n{output}"
    assert "Traceback" not in output, output
    for function in (f for f in stack_for().resources if f.kind == "function"):
        assert f"wheelplan-{function.name}" in output, f"the plan does not create function {function.name}:\n{output}"


def test_a_wheel_install_outside_any_project_says_where_it_looked(
    wheel_venv: Path, outside_env: dict[str, str], tmp_path: Path
):
    nowhere = tmp_path / "not-a-project"
    nowhere.mkdir()
    result = run(
        [str(wheel_venv / "bin" / "testbed"), "export", "cloudformation", "--out", str(tmp_path / "t.json")],
        cwd=nowhere,
        env=outside_env,
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, f"export outside a project succeeded:\n{output}"
    assert "Traceback" not in output, output
    assert "no project root" in output, output
    assert "TESTBED_PROJECT_ROOT" in output, output
