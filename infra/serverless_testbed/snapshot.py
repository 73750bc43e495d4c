"""Clients that answer many single reads from one bulk read, for a look at a whole stack.

`testbed status` reads every resource of every workflow. Most of those reads are roles
(GetRole and GetRolePolicy, two per role) and functions (GetFunctionConfiguration): IAM's
GetAccountAuthorizationDetails and Lambda's ListFunctions answer them all in a page or
two. A snapshot client makes those bulk calls once, on the first single read, and answers
each single read from them: the same fields, and the same error (NoSuchEntity,
ResourceNotFoundException) for what is not there. Every other call goes to the real client.

It is a snapshot: a resource made after the first read is not seen. Use it for one look
(status), never for a deploy.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients


def _missing(code: str, operation: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


class _Iam:
    """GetRole and GetRolePolicy from GetAccountAuthorizationDetails (roles only)."""

    def __init__(self, client: Any) -> None:
        self.client, self.lock = client, threading.Lock()
        self.roles: dict[str, dict[str, Any]] | None = None

    def _all(self) -> dict[str, dict[str, Any]]:
        with self.lock:
            if self.roles is None:
                pages = self.client.get_paginator("get_account_authorization_details").paginate(Filter=["Role"])
                self.roles = {role["RoleName"]: role for page in pages for role in page.get("RoleDetailList", [])}
            return self.roles

    def get_role(self, *, RoleName: str) -> dict[str, Any]:
        role = self._all().get(RoleName)
        if role is None:
            raise _missing("NoSuchEntity", "GetRole", f"The role with name {RoleName} cannot be found.")
        return {"Role": {key: value for key, value in role.items() if key != "RolePolicyList"}}

    def get_role_policy(self, *, RoleName: str, PolicyName: str) -> dict[str, Any]:
        role = self._all().get(RoleName)
        for policy in (role or {}).get("RolePolicyList", []):
            if policy.get("PolicyName") == PolicyName:
                return {"RoleName": RoleName, "PolicyName": PolicyName, "PolicyDocument": policy["PolicyDocument"]}
        raise _missing("NoSuchEntity", "GetRolePolicy", f"The role policy with name {PolicyName} cannot be found.")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


class _Lambda:
    """GetFunctionConfiguration (by name, no qualifier) from ListFunctions."""

    def __init__(self, client: Any) -> None:
        self.client, self.lock = client, threading.Lock()
        self.functions: dict[str, dict[str, Any]] | None = None

    def get_function_configuration(self, **params: Any) -> dict[str, Any]:
        name = params.get("FunctionName", "")
        if set(params) != {"FunctionName"} or ":" in name:  # a qualifier or an ARN: ask Lambda itself
            return dict(self.client.get_function_configuration(**params))
        with self.lock:
            if self.functions is None:
                pages = self.client.get_paginator("list_functions").paginate()
                self.functions = {f["FunctionName"]: f for page in pages for f in page.get("Functions", [])}
        found = self.functions.get(name)
        if found is None:
            raise _missing("ResourceNotFoundException", "GetFunctionConfiguration", f"Function not found: {name}")
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)


BULK: dict[str, Callable[[Any], Any]] = {"iam": _Iam, "lambda": _Lambda}


def snapshot_clients(clients: Clients) -> Clients:
    """`clients`, with IAM's and Lambda's single reads answered from one bulk read each."""
    made: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in BULK:
            return clients(service)
        if service not in made:
            made[service] = BULK[service](clients(service))
        return made[service]

    return client
