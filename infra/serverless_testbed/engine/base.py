"""What every target offers: start, stop, an endpoint, boto3 clients and shell exports."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any, Self

import boto3
from botocore.config import Config
from serverless_testbed.settings import Settings

# Emulators accept any key; these are the conventional dummy ones.
DUMMY_ACCESS_KEY = "test"
DUMMY_SECRET_KEY = "test"


class Engine(ABC):
    """A place the stack runs: an emulator this project starts or finds, or real AWS."""

    name: str = "engine"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._clients: dict[str, Any] = {}
        self._session: boto3.Session | None = None  # the cached clients' one session: a session costs ~50 ms
        self._clients_lock = threading.Lock()  # a boto3 session is not thread-safe; its clients are

    @property
    @abstractmethod
    def endpoint_url(self) -> str | None:
        """The URL boto3 should talk to; None means AWS's own endpoints."""

    @abstractmethod
    def start(self) -> Self:
        """Bring the engine up and return when it answers."""

    @abstractmethod
    def stop(self) -> None:
        """Release what start() took; safe to call twice."""

    @property
    def region(self) -> str:
        return self.settings.region

    def session(self) -> boto3.Session:
        """A boto3 session for this target (dummy credentials for emulators)."""
        if self.settings.is_emulator:
            return boto3.Session(
                aws_access_key_id=DUMMY_ACCESS_KEY,
                aws_secret_access_key=DUMMY_SECRET_KEY,
                region_name=self.region,
            )
        return boto3.Session(region_name=self.region)

    def client(self, service: str) -> Any:
        """A cached boto3 client for `service`, pointed at this engine."""
        with self._clients_lock:
            return self._client(service)

    def _client(self, service: str) -> Any:
        if service not in self._clients:
            config = Config(
                s3={"addressing_style": "path"} if self.endpoint_url else {},
                retries={"mode": "standard", "max_attempts": 3},
                connect_timeout=5,
                read_timeout=120,
            )
            if self._session is None:
                self._session = self.session()
            self._clients[service] = self._session.client(  # type: ignore[call-overload]
                service, endpoint_url=self.endpoint_url, config=config
            )
        return self._clients[service]

    def exports(self) -> dict[str, str]:
        """Environment variables that point the AWS CLI and boto3 at this engine."""
        env = {"AWS_REGION": self.region, "AWS_DEFAULT_REGION": self.region}
        if self.endpoint_url:
            env["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.settings.is_emulator:
            env["AWS_ACCESS_KEY_ID"] = DUMMY_ACCESS_KEY
            env["AWS_SECRET_ACCESS_KEY"] = DUMMY_SECRET_KEY
        return env

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
