"""A stubbed AWS account for unit tests: real botocore clients whose Stubbers answer as AWS
does, and the list of every operation called, in order."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.stub import Stubber


class StubbedAccount:
    """`account("s3")` gives a stubbed client (made once); `calls` lists every operation made."""

    def __init__(self, region: str) -> None:
        self.session = boto3.Session(aws_access_key_id="AKIAEXAMPLE", aws_secret_access_key="x", region_name=region)
        self.clients: dict[str, Any] = {}
        self.stubbers: dict[str, Stubber] = {}
        self.calls: list[str] = []

    def __call__(self, service: str) -> Any:
        if service not in self.clients:
            client = self.session.client(service)  # type: ignore[call-overload]
            stubber = Stubber(client)
            stubber.activate()
            self.clients[service], self.stubbers[service] = client, stubber
            client.meta.events.register_first("before-call.*.*", self._record)
        return self.clients[service]

    def _record(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
