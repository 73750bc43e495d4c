"""The container target: LocalStack 4.14.0 started by testcontainers, for CI with Docker."""

from __future__ import annotations

import os
from typing import Any, Self

from infra.engine.base import Engine
from infra.errors import EngineUnavailable
from infra.settings import Settings


def docker_answers() -> str | None:
    """None when a Docker engine answers; otherwise why not, in words a user can act on."""
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception as err:  # noqa: BLE001 - any failure means "no usable Docker here"
        return f"no Docker engine answers ({type(err).__name__}: {err})"
    return None


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

        container = LocalStackContainer(image=self.settings.image, region_name=self.region)
        container.with_volume_mapping("/var/run/docker.sock", "/var/run/docker.sock", "rw")
        if token := os.environ.get("LOCALSTACK_AUTH_TOKEN"):
            container.with_env("LOCALSTACK_AUTH_TOKEN", token)
        self._container = container.start()
        return self

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None
