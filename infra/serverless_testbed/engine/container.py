"""The container target: LocalStack 4.14.0 started by testcontainers, for CI with Docker."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from serverless_testbed.engine.base import Engine
from serverless_testbed.errors import EngineUnavailable
from serverless_testbed.settings import Settings


def docker_answers() -> str | None:
    """None when a Docker engine answers; otherwise why not, in words a user can act on."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as err:  # noqa: BLE001 - any failure means "no usable Docker here"
        return f"no Docker engine answers ({type(err).__name__}: {err})"
    return None


DEFAULT_DOCKER_SOCKET = "/var/run/docker.sock"
# testcontainers' label for the containers of one test session; Ryuk removes what carries it.
SESSION_LABEL = "org.testcontainers.session-id"


def docker_socket_path(environ: Mapping[str, str] | None = None) -> str:
    """The Docker daemon's socket to mount into LocalStack, as testcontainers finds it:
    TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE, else the path of a unix:// DOCKER_HOST (rootless
    Docker, Podman), else /var/run/docker.sock (also for a tcp:// DOCKER_HOST)."""
    env = os.environ if environ is None else environ
    if override := env.get("TESTCONTAINERS_DOCKER_SOCKET_OVERRIDE"):
        return override
    host = env.get("DOCKER_HOST", "")
    if host.startswith("unix://"):
        return host.removeprefix("unix://")
    return DEFAULT_DOCKER_SOCKET


@dataclass(frozen=True)
class ContainerOptions:
    """What the LocalStack container gets besides its image: the socket to mount and its env."""

    docker_socket: str
    env: dict[str, str] = field(default_factory=dict)


def container_options(session_id: str, environ: Mapping[str, str] | None = None) -> ContainerOptions:
    """The LocalStack container's socket and environment, computed without Docker.

    Lambda containers LocalStack starts carry the testcontainers session label (through
    LAMBDA_DOCKER_FLAGS, as testcontainers-java and -node do): testcontainers stops LocalStack
    before it could remove them (localstack/localstack#8616), and Ryuk removes them instead."""
    env = os.environ if environ is None else environ
    flags = " ".join(part for part in (env.get("LAMBDA_DOCKER_FLAGS", ""), f"-l {SESSION_LABEL}={session_id}") if part)
    values = {"LAMBDA_DOCKER_FLAGS": flags}
    if token := env.get("LOCALSTACK_AUTH_TOKEN"):
        values["LOCALSTACK_AUTH_TOKEN"] = token
    return ContainerOptions(docker_socket=docker_socket_path(env), env=values)


class ContainerEngine(Engine):
    """LocalStack in a throwaway container; Lambda runs in Docker through the mounted socket."""

    name = "container"

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._container: Any = None

    @property
    def endpoint_url(self) -> str | None:
        return self._container.get_url() if self._container else None

    def start(self) -> Self:
        if self._container is not None:
            return self
        if reason := docker_answers():
            raise EngineUnavailable(f"the container target needs Docker: {reason}. Use --target embedded here.")
        from testcontainers.community.localstack import LocalStackContainer
        from testcontainers.core.labels import SESSION_ID

        options = container_options(SESSION_ID)
        container = LocalStackContainer(image=self.settings.image, region_name=self.region)
        container.with_volume_mapping(options.docker_socket, DEFAULT_DOCKER_SOCKET, "rw")
        for name, value in options.env.items():
            container.with_env(name, value)
        self._container = container.start()
        return self

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
