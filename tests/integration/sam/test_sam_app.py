"""A SAM project of one's own on the engine: examples/sam-app built with `sam build`, deployed with
`sam deploy --resolve-s3` (serverless_testbed.sam), then its own tests, written as against AWS,
run unchanged with pytest in a subprocess; and its Step Functions Local mock-config test module,
as AWS publishes it, against an engine started with SFN_MOCK_CONFIG."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from serverless_testbed.engine.base import Engine
from serverless_testbed.sam import deploy_template

from tests.integration.engine.own_engine import engine_with

EXAMPLE = Path(__file__).parents[3] / "examples" / "sam-app"
pytestmark = [
    pytest.mark.embedded_only(reason="builds public layers locally and runs functions as local processes"),
    pytest.mark.slow,
]


def copy_of_the_example(folder: Path) -> Path:
    """The example in a folder of the test's own: sam build writes .aws-sam/ beside the template."""
    return Path(shutil.copytree(EXAMPLE, folder / "sam-app", ignore=shutil.ignore_patterns(".aws-sam")))


def run_the_examples_tests(project: Path, tests: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """pytest on the example's own tests, in its own folder, as its CI would run them."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", tests, "-q", "-p", "no:cacheprovider", "-p", "no:testbed", "-rA"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    print(f"{tests}: {time.monotonic() - started:.1f} s\n{done.stdout[-6000:]}\n{done.stderr[-2000:]}")
    return done


@pytest.fixture(scope="module")
def deployed(testbed_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    project = copy_of_the_example(tmp_path_factory.mktemp("sam"))
    stack_name = f"sam-app-{uuid.uuid4().hex[:8]}"
    started = time.monotonic()
    deploy_template(project / "template.yaml", stack_name, testbed_engine.exports())
    print(f"sam build + sam deploy: {time.monotonic() - started:.1f} s")
    yield project, stack_name
    testbed_engine.client("cloudformation").delete_stack(StackName=stack_name)


def test_the_example_projects_own_tests_pass_unchanged(testbed_engine: Engine, deployed: tuple[Path, str]):
    project, stack_name = deployed
    env = {**os.environ, **testbed_engine.exports(), "AWS_SAM_STACK_NAME": stack_name}
    done = run_the_examples_tests(project, "tests/integration", env)
    assert done.returncode == 0, f"the example's tests failed:\n{done.stdout[-6000:]}"


def test_the_published_step_functions_local_mock_tests_pass_with_only_the_endpoint_changed(tmp_path: Path):
    project = copy_of_the_example(tmp_path)
    mock_config = project / "statemachine" / "test" / "MockConfigFile.json"
    # An engine of its own: the module takes list_state_machines()[0] and fixed execution names.
    # Its Retry waits 2 + 4 + 8 s in real time; the engine scales them (TESTBED_SFN_RETRY_SCALE).
    settings = {"SFN_MOCK_CONFIG": str(mock_config), "TESTBED_SFN_RETRY_SCALE": "0.1"}
    for engine in engine_with(settings):
        env = {**os.environ, **engine.exports()}
        done = run_the_examples_tests(project, "tests/unit", env)
        assert done.returncode == 0, f"the published mock-config tests failed:\n{done.stdout[-6000:]}"
