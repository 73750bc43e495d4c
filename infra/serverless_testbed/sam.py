"""Your own SAM or CloudFormation project on the engine: `testbed deploy --template T --stack-name N`.

The same two steps as against AWS, with the real SAM CLI: `sam build` (no containers: each
Python function is built from its requirements.txt on the Python of its runtime) and `sam deploy
--resolve-s3` against the engine's endpoint, whose CloudFormation expands the SAM transform and
creates the stack; sam prints the stack's events as they come, then its Outputs.

aws-sam-cli pins click 8.1.8 and LocalStack 4.14.0 needs click 8.2, so SAM cannot share the
project's development environment: it gets an environment of its own, installed with uv from
PyPI once per machine under the testbed's cache (`venv.built_once`), unless `sam` is on PATH
or $TESTBED_SAM names one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from serverless_testbed.engine.venv import built_once, cache_root, run_logged, uv_binary
from serverless_testbed.errors import BadInput, DeployError, EngineUnavailable

SAM_VERSION = "1.170.0"
SAM_VAR = "TESTBED_SAM"
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")


def sam_executable(environ: Mapping[str, str] | None = None, say: Callable[[str], None] = print) -> str:
    """$TESTBED_SAM, else `sam` on PATH, else aws-sam-cli installed once into the testbed's cache."""
    env = os.environ if environ is None else environ
    if env.get(SAM_VAR):
        return env[SAM_VAR]
    if found := shutil.which("sam", path=env.get("PATH", os.defpath)):
        return found
    path = cache_root(env) / "tools" / f"aws-sam-cli-{SAM_VERSION}-py{sys.version_info[0]}.{sys.version_info[1]}"

    def build(folder: Path) -> dict[str, str]:
        say(f"installing aws-sam-cli {SAM_VERSION} once for this machine (uv, from PyPI) in {folder}")
        uv = uv_binary(env)
        steps = [
            [uv, "venv", "--quiet", "--python", sys.executable, str(folder)],
            [
                uv,
                "pip",
                "install",
                "--quiet",
                "--python",
                str(folder / "bin" / "python"),
                f"aws-sam-cli=={SAM_VERSION}",
            ],
        ]
        run_logged(steps, folder.with_name(f"{folder.name}.log"), env, f"aws-sam-cli {SAM_VERSION}")
        return {"sam": SAM_VERSION}

    built_once(path, build, marker="testbed-tool.json")
    return str(path / "bin" / "sam")


def python_path(folder: Path, environ: Mapping[str, str]) -> str:
    """PATH with `folder` first, holding a `python3.X` for each Python runtime (3.9 to 3.14) found
    on PATH or in pyenv: sam build looks a function's interpreter up by that name."""
    from serverless_testbed.localstack_plugins.lambda_python import find_interpreter

    folder.mkdir(parents=True, exist_ok=True)
    for minor in range(9, 15):
        found = find_interpreter((3, minor), environ)
        link = folder / f"python3.{minor}"
        link.unlink(missing_ok=True)
        if found is not None:
            link.symlink_to(found)
    return os.pathsep.join([str(folder), environ.get("PATH", os.defpath)])


def deploy_template(
    template: Path,
    stack_name: str,
    exports: Mapping[str, str],
    parameters: list[str] | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """`sam build` then `sam deploy --resolve-s3` of `template` against the engine `exports` point
    at (AWS_ENDPOINT_URL, region, credentials); their output goes straight to the terminal."""
    if not template.is_file():
        raise BadInput(f"no template at {template}")
    project = template.resolve().parent
    env = {**os.environ, **exports}
    env.setdefault("SAM_CLI_TELEMETRY", "0")
    build_dir = project / ".aws-sam" / "build"
    env["PATH"] = python_path(project / ".aws-sam" / "pythons", env)
    sam = sam_executable(env, say)
    build = [sam, "build", "--template-file", str(template.resolve()), "--build-dir", str(build_dir)]
    deploy = [
        sam,
        "deploy",
        "--template-file",
        str(build_dir / "template.yaml"),
        "--stack-name",
        stack_name,
        "--resolve-s3",
        "--no-confirm-changeset",
        "--no-fail-on-empty-changeset",
        "--region",
        exports.get("AWS_REGION", "us-east-1"),
        "--capabilities",
        *CAPABILITIES,
    ]
    if parameters:
        deploy += ["--parameter-overrides", *parameters]
    for step, what in ((build, "sam build"), (deploy, "sam deploy")):
        say(f"$ {' '.join(step[1:])}")
        try:
            done = subprocess.run(step, cwd=project, env=env, check=False)
        except OSError as err:
            raise EngineUnavailable(f"cannot run {sam}: {err}") from err
        if done.returncode != 0:
            raise DeployError(f"{what} of {template} exited {done.returncode} (its output is above)")
