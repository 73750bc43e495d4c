"""The container target's LocalStack container, as far as it is decided without Docker:
the socket it mounts (DOCKER_HOST honoured) and the label its Lambda containers carry."""

from __future__ import annotations

import shlex

import pytest
from serverless_testbed.engine.container import SESSION_LABEL, container_options, docker_socket_path
from testcontainers.core.labels import LABEL_SESSION_ID, SESSION_ID


@pytest.mark.parametrize(
    ("environ", "socket"),
    [
        ({}, "/var/run/docker.sock"),
        ({"DOCKER_HOST": "unix:///run/user/1000/docker.sock"}, "/run/user/1000/docker.sock"),  # rootless Docker
        ({"DOCKER_HOST": "unix:///run/user/1000/podman/podman.sock"}, "/run/user/1000/podman/podman.sock"),
        ({"DOCKER_HOST": "tcp://10.0.0.5:2375"}, "/var/run/docker.sock"),  # no socket path to mount
        (
            # colima and Docker Desktop: the path the daemon's VM knows, as testcontainers takes it.
            {
                "DOCKER_HOST": "unix:///Users/me/.colima/default/docker.sock",
                "TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE": "/var/run/docker.sock",
            },
            "/var/run/docker.sock",
        ),
    ],
)
def test_the_socket_follows_docker_host(environ: dict[str, str], socket: str):
    assert docker_socket_path(environ) == socket
    assert container_options("s1", environ).docker_socket == socket


def test_lambda_containers_carry_the_testcontainers_session_label():
    assert SESSION_LABEL == LABEL_SESSION_ID  # the label Ryuk reaps by
    options = container_options(SESSION_ID, {})
    assert shlex.split(options.env["LAMBDA_DOCKER_FLAGS"]) == ["-l", f"{LABEL_SESSION_ID}={SESSION_ID}"]


def test_the_users_lambda_docker_flags_are_kept():
    options = container_options("s1", {"LAMBDA_DOCKER_FLAGS": "--dns 10.0.0.2"})
    assert shlex.split(options.env["LAMBDA_DOCKER_FLAGS"]) == ["--dns", "10.0.0.2", "-l", f"{LABEL_SESSION_ID}=s1"]


def test_the_auth_token_is_passed_only_when_set():
    assert "LOCALSTACK_AUTH_TOKEN" not in container_options("s1", {}).env
    assert container_options("s1", {"LOCALSTACK_AUTH_TOKEN": "tok"}).env["LOCALSTACK_AUTH_TOKEN"] == "tok"


def test_localstack_parses_the_flags_into_the_label():
    # LocalStack's own parser: the Docker executor passes LAMBDA_DOCKER_FLAGS as additional_flags,
    # which its container client turns into run flags with this function.
    from localstack.utils.container_utils.container_client import Util

    flags = container_options("s1", {"LAMBDA_DOCKER_FLAGS": "-e A=1"}).env["LAMBDA_DOCKER_FLAGS"]
    parsed = Util.parse_additional_flags(flags)
    assert parsed.labels == {LABEL_SESSION_ID: "s1"}
    assert parsed.env_vars == {"A": "1"}
