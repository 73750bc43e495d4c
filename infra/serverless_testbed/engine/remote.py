"""Targets this project does not host itself: compose, an existing endpoint, real AWS."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from serverless_testbed.engine.base import Engine
from serverless_testbed.engine.container import docker_answers, docker_socket_path
from serverless_testbed.errors import EngineError, EngineUnavailable, TargetRefused
from serverless_testbed.guard import check_aws_target
from serverless_testbed.project import find_root
from serverless_testbed.settings import COMPOSE_ENDPOINT, Settings
from serverless_testbed.waiting import wait_for


def compose_file() -> Path:
    """compose.yaml of the project root (serverless_testbed.project); it mounts that root into the container."""
    path = find_root() / "compose.yaml"
    if not path.is_file():
        raise EngineUnavailable(f"the compose target needs {path}; this project has no compose.yaml")
    return path


def endpoint_answers(url: str) -> bool:
    """True when something answers HTTP at `url` (any status: emulators differ in their root)."""
    try:
        with urllib.request.urlopen(url, timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class EndpointEngine(Engine):
    """Whatever emulator already listens at AWS_ENDPOINT_URL (a LocalStack, a moto server...)."""

    name = "endpoint"

    @property
    def endpoint_url(self) -> str | None:
        return self.settings.endpoint_url

    def start(self) -> Self:
        if not self.endpoint_url:
            raise EngineUnavailable("the endpoint target needs AWS_ENDPOINT_URL (or --endpoint-url)")
        wait_for(
            lambda: endpoint_answers(str(self.endpoint_url)),
            timeout=10,
            what=f"an emulator answering at {self.endpoint_url}",
        )
        return self

    def stop(self) -> None:
        """Nothing to release: the endpoint belongs to someone else."""


def compose_command(*args: str) -> list[str]:
    """`docker compose -f <project>/compose.yaml ARGS...`."""
    return ["docker", "compose", "-f", str(compose_file()), *args]


# -v: the image declares VOLUME /var/lib/localstack, an anonymous volume `down` alone leaves.
COMPOSE_UP = ("up", "-d", "--wait")
COMPOSE_DOWN = ("down", "-v")


def compose_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for `docker compose`: compose.yaml mounts TESTBED_DOCKER_SOCKET, which
    follows DOCKER_HOST (rootless Docker, Podman) unless set explicitly."""
    env = dict(os.environ if environ is None else environ)
    env.setdefault("TESTBED_DOCKER_SOCKET", docker_socket_path(env))
    return env


class ComposeEngine(Engine):
    """`docker compose up` with compose.yaml; stops only what it started itself."""

    name = "compose"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._started = False

    @property
    def endpoint_url(self) -> str | None:
        return self.settings.endpoint_url or COMPOSE_ENDPOINT

    def start(self) -> Self:
        if endpoint_answers(f"{self.endpoint_url}/_localstack/health"):
            return self  # someone already ran `docker compose up`
        if shutil.which("docker") is None or (reason := docker_answers()):
            raise EngineUnavailable(
                "the compose target needs a Docker engine: "
                f"{'docker not installed' if shutil.which('docker') is None else reason}. "
                "Use --target embedded here."
            )
        result = subprocess.run(
            compose_command(*COMPOSE_UP), capture_output=True, text=True, check=False, env=compose_environment()
        )
        if result.returncode != 0:
            raise EngineError(
                f"docker compose up failed:\n{result.stderr[-2000:]}\n"
                "An unhealthy localstack service means the deploy hook failed: docker compose logs localstack"
            )
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            subprocess.run(compose_command(*COMPOSE_DOWN), capture_output=True, check=False, env=compose_environment())
            self._started = False


class AwsEngine(Engine):
    """Real AWS: no endpoint, the user's own credentials, and a guard before anything runs."""

    name = "aws"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.account_id: str | None = None

    @property
    def endpoint_url(self) -> str | None:
        return None

    def start(self) -> Self:
        from botocore.exceptions import ProfileNotFound

        try:
            session = self.session()
        except ProfileNotFound as err:  # AWS_PROFILE names a profile the config files lack
            raise TargetRefused(f"{err}; set AWS_PROFILE to one of your profiles, or unset it") from err
        self.account_id = check_aws_target(session, os.environ, self.settings.account_id)
        return self

    def stop(self) -> None:
        """Real AWS is not ours to stop."""
