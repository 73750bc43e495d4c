"""The exported template, deployed the documented way: `testbed export cloudformation`
prints the commands, and this test runs exactly those lines (bash, the real AWS CLI of
the dev dependencies) against the engine's own CloudFormation: `aws cloudformation
package` uploads the functions' zip files, `aws cloudformation deploy --s3-bucket`
uploads the template (it is over 51,200 bytes) and creates the stack. Then every
workflow's real trigger runs through the runners on that stack, with the names the model
computes for this prefix, account and region; then the printed removal lines delete what
the router made at run time, empty the buckets and delete the stack, leaving nothing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cfnlint.api import lint_all
from serverless_testbed.deploy import Deployer
from serverless_testbed.engine import Engine
from serverless_testbed.registry import stack_for
from serverless_testbed.runs import RunOptions, runners
from serverless_testbed.stack.cloudformation import LINT_IGNORED, logical_id, made_at_run_time, stack_name
from serverless_testbed.stack.model import Bucket, StateMachine
from serverless_testbed.stack.remote import BotoRemote
from serverless_testbed.stack.stack import Stack

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
TESTBED = Path(sys.executable).parent / "testbed"


@dataclass
class Exported:
    """The stack deployed from the exported template, and the printed removal lines."""

    deployer: Deployer
    stack: Stack
    outputs: dict[str, str]
    teardown: list[str]
    env: dict[str, str]
    folder: Path
    removed: bool = False


def shell(line: str, env: dict[str, str]) -> str:
    """One printed command line, run by bash as a user would paste it; its output."""
    done = subprocess.run(["bash", "-c", line], env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"`{line}` exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def printed(output: str, heading: str) -> list[str]:
    """The indented command lines under the line that starts with `heading`."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    found = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    assert found, f"no commands under {heading!r} in:\n{output}"
    return found


def aws_cli_env(engine: Engine, tmp: Path) -> dict[str, str]:
    """The environment of the AWS CLI pointed at the engine (`testbed env`), with no shared
    files of this machine in the way, and this venv's `aws` first on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(engine.exports())
    config = tmp / "aws-config"
    config.write_text("[default]\n")  # nothing of ~/.aws: the engine's exports alone decide
    env.update(AWS_CONFIG_FILE=str(config), AWS_SHARED_CREDENTIALS_FILE=str(config), AWS_PAGER="")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def exported(testbed_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    folder = tmp_path_factory.mktemp("cloudformation")
    prefix = f"cf{uuid.uuid4().hex[:6]}"
    env = aws_cli_env(testbed_engine, folder)
    artifacts = f"{prefix}-artifacts"
    template = folder / "stack.json"
    command = [str(TESTBED), "export", "cloudformation", "--out", str(template), "--bucket", artifacts]
    done = subprocess.run([*command, "--prefix", prefix], env=env, cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    deploy_lines = printed(done.stdout, "Deploy")
    teardown = printed(done.stdout, "Remove it")
    shell(f"aws s3 mb s3://{artifacts}", env)
    try:
        for line in deploy_lines:
            shell(line, env)
        stack = stack_for()
        deployer = Deployer.for_clients(testbed_engine.client, prefix, testbed_engine.region, local=True)
        found = testbed_engine.client("cloudformation").describe_stacks(StackName=stack_name(prefix))["Stacks"][0]
        assert found["StackStatus"] == "CREATE_COMPLETE", found.get("StackStatusReason")
        outputs = {o["OutputKey"]: o["OutputValue"] for o in found.get("Outputs", [])}
        result = Exported(deployer, stack, outputs, teardown, env, folder)
        yield result
    finally:
        if not locals().get("result") or not result.removed:
            for line in teardown:  # best effort: a failed test must not leave a stack behind
                subprocess.run(["bash", "-c", line], env=env, cwd=ROOT, capture_output=True, timeout=900)
        subprocess.run(["bash", "-c", f"aws s3 rb s3://{artifacts} --force"], env=env, capture_output=True)


def test_deploy_went_through_s3_and_the_packaged_template_is_lint_clean(exported: Exported) -> None:
    """The template deployed is the packaged one, too big to pass inline; cfn-lint with the
        informational rules on finds nothing in it but what LINT_IGNORED gives a reason for (the
    code paths are S3 locations now, so not even W3002)."""
    packaged = exported.folder / "stack.packaged.json"
    text = packaged.read_text()
    assert len(text.encode()) > 51_200, f"the template is {len(text.encode())} bytes: S3 was not needed"
    assert re.search(r'"S3Bucket": "cf[0-9a-f]{6}-artifacts"', text), "package did not point Code at the bucket"
    findings = [f"{m.rule.id} {m.message} ({m.path})" for m in lint_all(text) if m.rule.id not in LINT_IGNORED]
    assert findings == [], "\n".join(findings)


def test_the_stack_names_what_the_model_computes(exported: Exported) -> None:
    """Bucket names (with account and region) and state machine ARNs in the Outputs are the
    model's for this prefix, account and region: runners and tests find them by the model."""
    bound = exported.stack.bind(exported.deployer.ctx)
    for bucket in exported.stack.of_kind(Bucket):
        name = exported.outputs[f"{logical_id(bucket)}Name"]
        assert name == bound.name(bucket.name)
        assert name.endswith(f"-{exported.deployer.ctx.account}-{exported.deployer.ctx.region}"), name
    for machine in exported.stack.of_kind(StateMachine):
        assert exported.outputs[f"{logical_id(machine)}Arn"] == bound.arn(machine.name)


@pytest.mark.parametrize("workflow", sorted(runners()))
def test_every_workflow_runs_from_the_stack_to_its_expected_outcome(exported: Exported, workflow: str) -> None:
    result = runners()[workflow](exported.deployer, exported.stack, RunOptions(records=12, invalid_rate=0.25))
    assert result.executions, f"{workflow}: nothing ran"
    assert result.ok, f"{workflow} from the CloudFormation stack: {result.problems[:10]}"


def test_the_printed_removal_lines_leave_nothing(exported: Exported) -> None:
    """Run last in this file: the router's run-time stream and topic, the buckets' objects
    and the stack go, and the model's reader finds none of the stack's resources after."""
    for line in exported.teardown:
        shell(line, exported.env)
    exported.removed = True
    remote, ctx = BotoRemote(exported.deployer.clients), exported.deployer.ctx
    left = [
        f"{resource.kind} {resource.physical(ctx)}"
        for resource in exported.stack.resources
        if remote.describe(resource, exported.stack, ctx) is not None
    ]
    assert left == [], f"left after the stack was deleted: {left}"
    assert any(made_at_run_time(r) for r in exported.stack.resources)  # the run-time ones were checked too
