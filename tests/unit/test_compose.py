"""compose.yaml (the `compose` target) and its init hook that deploys the stack."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from serverless_testbed.settings import LOCALSTACK_IMAGE

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
        # The host side may be a ${VARIABLE:-default}, whose ":-" is not a separator.
        host, _, rest = volume.partition("}:") if volume.startswith("${") else volume.partition(":")
        host += "}" if volume.startswith("${") else ""
        container, *mode = rest.split(":")
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


def test_debug_comes_from_a_project_variable_not_the_hosts_debug(compose: dict[str, Any]):
    environment = compose["services"]["localstack"]["environment"]
    assert environment["DEBUG"] == "${TESTBED_LOCALSTACK_DEBUG:-0}"
    assert "${DEBUG" not in (ROOT / "compose.yaml").read_text()


def test_localstack_mounts_docker_the_repo_and_the_hook(compose: dict[str, Any]):
    mounts = volumes(compose["services"]["localstack"])
    assert mounts["/var/run/docker.sock"] == "${TESTBED_DOCKER_SOCKET:-/var/run/docker.sock}"
    assert mounts["/opt/testbed"] == ".:ro"
    assert mounts["/etc/localstack/init/ready.d"] == "./infra/compose/ready.d:ro"


def healthcheck_argv(compose: dict[str, Any], endpoint: str) -> list[str]:
    """The healthcheck exactly as compose.yaml has it, aimed at `endpoint` instead of the
    container's own localhost:4566, and run by this interpreter (the image's is 3.13 too)."""
    kind, program, *args = compose["services"]["localstack"]["healthcheck"]["test"]
    assert (kind, program) == ("CMD", "python3"), "the test runs an exec-form python3 healthcheck"
    script = args[-1]
    assert script.count("http://localhost:4566") == 1, "the healthcheck names LocalStack's address once"
    return [sys.executable, *args[:-1], script.replace("http://localhost:4566", endpoint)]


@pytest.fixture
def localstack_answering() -> Iterator[Callable[[dict[str, Any]], str]]:
    """A local HTTP server answering LocalStack's health and init endpoints; returns its URL."""
    answers: dict[str, Any] = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths = {"/_localstack/health": {"services": {"s3": "running"}}, "/_localstack/init/ready": answers}
            if self.path not in paths:
                self.send_error(404)
                return
            body = json.dumps(paths[self.path]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: the verdicts are what matter
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def answer(ready: dict[str, Any]) -> str:
        answers.clear()
        answers.update(ready)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield answer
    server.shutdown()
    server.server_close()


def deploy_script(state: str) -> dict[str, str]:
    return {"stage": "READY", "name": "10-deploy.sh", "state": state}


@pytest.mark.parametrize(
    ("ready", "healthy", "said"),
    [
        ({"completed": True, "scripts": [deploy_script("SUCCESSFUL")]}, True, "deployed: 10-deploy.sh"),
        # What LocalStack 4.14.0 answers after a failed hook: the stage is completed all the same.
        ({"completed": True, "scripts": [deploy_script("ERROR")]}, False, '"10-deploy.sh": "ERROR"'),
        ({"completed": False, "scripts": [deploy_script("RUNNING")]}, False, "still running"),
        ({"completed": False, "scripts": [deploy_script("UNKNOWN")]}, False, "still running"),
        ({"completed": True, "scripts": []}, False, "did not run"),
    ],
    ids=["completed-successful", "completed-error", "running", "not-started", "no-hook-mounted"],
)
def test_the_healthcheck_is_healthy_only_when_every_hook_succeeded(
    compose: dict[str, Any],
    localstack_answering: Callable[[dict[str, Any]], str],
    ready: dict[str, Any],
    healthy: bool,
    said: str,
):
    argv = healthcheck_argv(compose, localstack_answering(ready))
    result = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    verdict = "healthy" if result.returncode == 0 else "unhealthy"
    assert verdict == ("healthy" if healthy else "unhealthy"), (
        f"for {ready} expected {'healthy' if healthy else 'unhealthy'}, saw {verdict}: {result.stdout}{result.stderr}"
    )
    assert said in result.stdout + result.stderr


def test_the_healthcheck_is_unhealthy_when_localstack_does_not_answer(compose: dict[str, Any]):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    result = subprocess.run(
        healthcheck_argv(compose, f"http://127.0.0.1:{port}"), capture_output=True, text=True, timeout=30, check=False
    )
    assert result.returncode != 0
    assert "Connection refused" in result.stderr


def test_there_is_one_service_and_no_floci_profile(compose: dict[str, Any]):
    # Floci is not a target (docs/targets.md): nothing here may promise what was never shown to work.
    assert set(compose["services"]) == {"localstack"}
    assert "profiles" not in compose["services"]["localstack"]
    assert "floci" not in (ROOT / "compose.yaml").read_text().lower()


def test_the_hook_is_an_executable_shell_script():
    assert HOOK.read_text().startswith("#!/bin/sh\n")
    assert os.access(HOOK, os.X_OK), "LocalStack runs ready.d/*.sh directly: keep it executable"


def fake_repo(tmp_path: Path, deploy_source: str) -> Path:
    (tmp_path / "infra" / "serverless_testbed").mkdir(parents=True)
    (tmp_path / "infra" / "serverless_testbed" / "__init__.py").write_text("")
    (tmp_path / "infra" / "serverless_testbed" / "deploy.py").write_text(deploy_source)
    return tmp_path


def run_hook(repo: Path) -> subprocess.CompletedProcess[str]:
    # Scrub what the emulator image would not have; python3 on PATH stands in for LocalStack's venv.
    env = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '/usr/bin:/bin')}",
        "TESTBED_ROOT": str(repo),
    }
    python3 = shutil.which("python3", path=env["PATH"])
    if python3 is None:
        pytest.skip("no python3 on PATH to stand in for the image's")
    return subprocess.run(["/bin/sh", str(HOOK)], env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_hook_runs_the_deploy_against_the_local_emulator(tmp_path: Path):
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
        "PYTHONPATH": f"{repo}/infra:{repo}",
        "AWS_ENDPOINT_URL": "http://localhost:4566",
        "TESTBED_TARGET": "endpoint",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_REGION": "us-east-1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    assert f"CWD {repo}" in result.stdout
    assert result.stdout.rstrip().endswith("testbed: the stack is deployed")


def test_a_failing_deploy_fails_the_hook(tmp_path: Path):
    result = run_hook(fake_repo(tmp_path, "raise SystemExit('stack invalid')\n"))
    assert result.returncode == 1
    assert "stack invalid" in result.stderr
    # What `docker compose logs localstack` shows after the deploy's own lines.
    assert "testbed: the deploy FAILED (exit 1)" in result.stderr
    assert "docker compose restart localstack" in result.stderr
    assert "the stack is deployed" not in result.stdout


def test_a_missing_repository_is_reported(tmp_path: Path):
    result = run_hook(tmp_path)
    assert result.returncode == 1
    assert "infra/serverless_testbed/deploy.py not found" in result.stderr


def compose_command() -> list[str] | None:
    """`docker compose` (v2 plugin) or `docker-compose` (v1): both validate without a daemon."""
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


def test_docker_compose_accepts_the_file():
    command = compose_command()
    if command is None:
        pytest.skip("neither `docker compose` nor `docker-compose` is installed")
    result = subprocess.run(
        [*command, "-f", str(ROOT / "compose.yaml"), "config", "--services"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "LOCALSTACK_AUTH_TOKEN": ""},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["localstack"]


def test_shell_scripts_are_checked_out_with_lf_everywhere():
    # core.autocrlf=true (common on Windows) would otherwise give the hook CRLF line ends.
    result = subprocess.run(
        ["git", "-C", str(ROOT), "check-attr", "eol", "--", str(HOOK.relative_to(ROOT))],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        pytest.skip(f"not a git checkout: {result.stderr.strip()}")
    assert result.stdout.strip().endswith("eol: lf"), result.stdout
    assert b"\r" not in HOOK.read_bytes()


def test_the_compose_engine_stops_with_down_v_and_starts_waiting_for_health():
    from serverless_testbed.engine.remote import COMPOSE_DOWN, COMPOSE_UP, compose_command

    # -v: the image's VOLUME /var/lib/localstack is an anonymous volume `down` alone leaves behind.
    assert compose_command(*COMPOSE_DOWN)[-2:] == ["down", "-v"]
    assert compose_command(*COMPOSE_UP)[-3:] == ["up", "-d", "--wait"]
    assert compose_command()[:3] == ["docker", "compose", "-f"]
    assert compose_command()[3].endswith("compose.yaml")


@pytest.mark.parametrize(
    ("environ", "socket"),
    [
        ({}, "/var/run/docker.sock"),
        ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "/run/user/1000/docker.sock"),
        ({"DOCKER_HOST": "unix:///run/podman.sock", "TESTBED_DOCKER_SOCKET": "/elsewhere.sock"}, "/elsewhere.sock"),
    ],
)
def test_the_compose_engine_mounts_the_socket_docker_host_names(environ: dict[str, str], socket: str):
    from serverless_testbed.engine.remote import compose_environment

    assert compose_environment(environ)["TESTBED_DOCKER_SOCKET"] == socket


READY_BODIES = [
    {"completed": True, "scripts": [deploy_script("SUCCESSFUL")]},
    {"completed": True, "scripts": [deploy_script("ERROR")]},
    {"completed": False, "scripts": [deploy_script("RUNNING")]},
    {"completed": True, "scripts": []},
]


@pytest.mark.parametrize("ready", READY_BODIES, ids=["successful", "error", "running", "no-hook"])
def test_testbed_status_agrees_with_the_healthcheck_and_says_where_to_look(
    compose: dict[str, Any], localstack_answering: Callable[[dict[str, Any]], str], ready: dict[str, Any]
):
    endpoint = localstack_answering(ready)
    check = subprocess.run(healthcheck_argv(compose, endpoint), capture_output=True, timeout=30, check=False)
    testbed = Path(sys.executable).parent / "testbed"
    env = {key: value for key, value in os.environ.items() if not key.startswith(("TESTBED_", "AWS_"))}
    result = subprocess.run(
        [str(testbed), "status", "--target", "compose"],
        env={**env, "AWS_ENDPOINT_URL": endpoint},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode == 0) == (check.returncode == 0), result.stdout + result.stderr
    if ready == READY_BODIES[1]:
        assert '"10-deploy.sh": "ERROR"' in result.stdout
        assert "docker compose logs localstack" in result.stdout
        assert "docker compose restart localstack" in result.stdout
    if result.returncode == 0:
        assert "stack deployed by 10-deploy.sh" in result.stdout


def test_testbed_status_says_when_nothing_answers():
    from serverless_testbed.compose_status import compose_status

    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    status = compose_status(f"http://127.0.0.1:{port}")
    assert not status.healthy
    assert status.summary.startswith(f"compose: no LocalStack answers at http://127.0.0.1:{port}")
    assert "docker compose up -d --wait" in status.lines()[1]
