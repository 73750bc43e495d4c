"""compose.yaml (the `compose` target) and its init hook that deploys the stack."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from infra.settings import LOCALSTACK_IMAGE

ROOT = Path(__file__).resolve().parents[2]
HOOK = ROOT / "infra" / "compose" / "ready.d" / "10-deploy.sh"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def volumes(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> host path (with its mode) of a service's bind mounts."""
    mounts = {}
    for volume in service["volumes"]:
        host, container, *mode = volume.split(":")
        mounts[container] = ":".join([host, *mode])
    return mounts


def test_localstack_is_pinned_to_the_last_free_tag_with_an_override(compose: dict[str, Any]):
    image = compose["services"]["localstack"]["image"]
    assert image == "${LOCALSTACK_IMAGE:-" + LOCALSTACK_IMAGE + "}"
    assert LOCALSTACK_IMAGE == "localstack/localstack:4.14.0"


def test_localstack_listens_on_loopback_4566(compose: dict[str, Any]):
    assert compose["services"]["localstack"]["ports"] == ["127.0.0.1:4566:4566"]


def test_the_auth_token_is_passed_through_when_set(compose: dict[str, Any]):
    environment = compose["services"]["localstack"]["environment"]
    assert environment["LOCALSTACK_AUTH_TOKEN"] == "${LOCALSTACK_AUTH_TOKEN:-}"


def test_localstack_mounts_docker_the_repo_and_the_hook(compose: dict[str, Any]):
    mounts = volumes(compose["services"]["localstack"])
    assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"
    assert mounts["/opt/testbed"] == ".:ro"
    assert mounts["/etc/localstack/init/ready.d"] == "./infra/compose/ready.d:ro"


def test_the_healthcheck_asks_localstack_health(compose: dict[str, Any]):
    check = compose["services"]["localstack"]["healthcheck"]
    command = " ".join(check["test"])
    assert "curl" in command
    assert "http://localhost:4566/_localstack/health" in command
    assert "/_localstack/init/ready" in command  # healthy once the deploy hook has run


def test_floci_is_an_opt_in_profile_beside_localstack(compose: dict[str, Any]):
    floci = compose["services"]["floci"]
    assert floci["image"].startswith("${FLOCI_IMAGE:-floci/floci:")
    assert floci["profiles"] == ["floci"]
    assert floci["ports"] == ["127.0.0.1:4567:4566"]
    mounts = volumes(floci)
    assert mounts["/etc/floci/init/ready.d"] == "./infra/compose/ready.d:ro"
    assert mounts["/opt/testbed"] == ".:ro"
    assert "profiles" not in compose["services"]["localstack"]


def test_the_hook_is_an_executable_shell_script():
    assert HOOK.read_text().startswith("#!/bin/sh\n")
    assert os.access(HOOK, os.X_OK), "LocalStack runs ready.d/*.sh directly: keep it executable"


def fake_repo(tmp_path: Path, deploy_source: str) -> Path:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "__init__.py").write_text("")
    (tmp_path / "infra" / "deploy.py").write_text(deploy_source)
    return tmp_path


def run_hook(repo: Path) -> subprocess.CompletedProcess[str]:
    # Scrub what the emulator image would not have; python3 must be on PATH as in Floci's image.
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "TESTBED_ROOT": str(repo),
    }
    python3 = shutil.which("python3", path=env["PATH"])
    if python3 is None:
        pytest.skip("no python3 on PATH to stand in for the image's")
    return subprocess.run(["/bin/sh", str(HOOK)], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_hook_runs_infra_deploy_against_the_local_emulator(tmp_path: Path):
    repo = fake_repo(
        tmp_path,
        "import json, os\n"
        "keys = ['PYTHONPATH', 'AWS_ENDPOINT_URL', 'TESTBED_TARGET', 'AWS_ACCESS_KEY_ID',\n"
        "        'AWS_REGION', 'PYTHONDONTWRITEBYTECODE']\n"
        "print('DEPLOYED', json.dumps({k: os.environ.get(k) for k in keys}))\n"
        "print('CWD', os.getcwd())\n",
    )
    result = run_hook(repo)
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("DEPLOYED "))
    seen = yaml.safe_load(line.removeprefix("DEPLOYED "))
    assert seen == {
        "PYTHONPATH": str(repo),
        "AWS_ENDPOINT_URL": "http://localhost:4566",
        "TESTBED_TARGET": "endpoint",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    assert f"CWD {repo}" in result.stdout


def test_a_failing_deploy_fails_the_hook(tmp_path: Path):
    result = run_hook(fake_repo(tmp_path, "raise SystemExit('stack invalid')\n"))
    assert result.returncode != 0
    assert "stack invalid" in result.stderr


def test_a_missing_repository_is_reported(tmp_path: Path):
    result = run_hook(tmp_path)
    assert result.returncode == 1
    assert "infra/deploy.py not found" in result.stderr


def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1): both validate without a daemon."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.parametrize("profile", [[], ["--profile", "floci"]])
def test_docker_compose_accepts_the_file(profile: list[str]):
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run(
        [*command, "-f", str(ROOT / "compose.yaml"), *profile, "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LOCALSTACK_AUTH_TOKEN": ""},
    )
    assert result.returncode == 0, result.stderr
    # docker-compose v1 lists profiled services even without --profile; v2 does not.
    expected = {"localstack", "floci"} if profile else {"localstack"}
    assert expected <= set(result.stdout.split())
