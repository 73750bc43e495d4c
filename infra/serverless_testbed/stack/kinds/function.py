"""Lambda functions: Python packaged from `src/<source>`, each with a role of its own that
holds its log group and its declared grants, and the layers it names."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from serverless_testbed.clients import Clients
from serverless_testbed.packaging import code_sha256, zip_directory
from serverless_testbed.project import src_dir
from serverless_testbed.stack.calls import Call
from serverless_testbed.stack.kinds.layer import layer_arn, layer_label, read_layer_label
from serverless_testbed.stack.resource import Context, Document, Ref, Resource, State, Statement, Value, allow
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class Function(Resource):
    """A Python Lambda function packaged from `src/<source>`.

    `grants` are the only permissions its role gets (with its log group, and what an event
    source mapping feeding it needs); environment values may be Refs. `layers` are Layer
    resources of the stack (logical names) or layer version ARNs.
    """

    source: str = ""
    handler: str = "handler.handler"
    environment: Mapping[str, Value] = field(default_factory=dict)
    timeout: int = 30
    memory: int = 256
    runtime: str = "python3.12"
    grants: tuple[Statement, ...] = ()
    architecture: str | None = None  # None: the target's (Context.architecture)
    layers: tuple[str, ...] = ()

    kind = "function"
    services = ("lambda",)
    name_limit = ("Lambda function", 64)
    role_service = "lambda.amazonaws.com"

    def architectures(self, ctx: Context) -> list[str]:
        """Lambda's `Architectures` for this function where `ctx` deploys it."""
        return [self.architecture or ctx.architecture]

    def arn(self, ctx: Context) -> str:
        return ctx.arn("lambda", f"function:{self.physical(ctx)}")

    @cached_property
    def package(self) -> bytes:
        source = src_dir() / self.source  # the project root is resolved when the package is built
        if not source.is_dir():
            raise FileNotFoundError(f"function {self.name}: no source folder {source}")
        return zip_directory(source)

    @property
    def code_sha256(self) -> str:
        return code_sha256(self.package)

    def refs(self) -> Iterator[Ref]:
        yield from (v for v in self.environment.values() if isinstance(v, Ref))
        for statement in self.grants:
            yield from (r for r in statement.resources if isinstance(r, Ref))
        yield from (Ref(layer) for layer in self._own_layers())

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.role_name, *self._own_layers()}

    def _own_layers(self) -> list[str]:
        return [layer for layer in self.layers if not layer.startswith("arn:")]

    def role_statements(self, stack: Stack, ctx: Context) -> Iterator[tuple[str, Document]]:
        group = f"/aws/lambda/{self.physical(ctx)}"
        yield self.role_name, allow(["logs:CreateLogGroup"], [ctx.arn("logs", f"log-group:{group}")])
        yield (
            self.role_name,
            allow(["logs:CreateLogStream", "logs:PutLogEvents"], [ctx.arn("logs", f"log-group:{group}:*")]),
        )
        for grant in self.grants:
            yield self.role_name, allow(grant.actions, [stack.resolve(r, ctx) for r in grant.resources])

    def environment_values(self, stack: Stack, ctx: Context) -> dict[str, str]:
        return {key: stack.resolve(value, ctx) for key, value in sorted(self.environment.items())}

    def desired(self, stack: Stack, ctx: Context) -> State:
        state: State = {
            "CodeSha256": self.code_sha256,
            "Handler": self.handler,
            "Runtime": self.runtime,
            "Architectures": self.architectures(ctx),
            "Timeout": self.timeout,
            "MemorySize": self.memory,
            "Environment": self.environment_values(stack, ctx),
            "Role": stack.get(self.role_name).arn(ctx),
        }
        if self.layers:
            state["Layers"] = [
                layer if layer.startswith("arn:") else layer_label(stack.get(layer), ctx) for layer in self.layers
            ]
        return state

    def read(self, clients: Clients, ctx: Context) -> State:
        lambda_ = clients("lambda")
        found = lambda_.get_function_configuration(FunctionName=self.physical(ctx))
        state: State = {
            "CodeSha256": found["CodeSha256"],
            "Handler": found.get("Handler"),
            "Runtime": found.get("Runtime"),
            "Architectures": found.get("Architectures") or ["x86_64"],  # Lambda's default
            "Timeout": found.get("Timeout"),
            "MemorySize": found.get("MemorySize"),
            "Environment": dict(sorted(found.get("Environment", {}).get("Variables", {}).items())),
            "Role": found.get("Role"),
        }
        if found.get("Layers"):
            state["Layers"] = [read_layer_label(lambda_, layer["Arn"]) for layer in found["Layers"]]
        return state

    def _layer_values(self, stack: Stack, ctx: Context) -> list[Any]:
        return [layer if layer.startswith("arn:") else layer_arn(stack.get(layer), ctx) for layer in self.layers]

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        name = self.physical(ctx)
        params = {
            "FunctionName": name,
            "Runtime": desired["Runtime"],
            "Role": desired["Role"],
            "Handler": desired["Handler"],
            "Code": {"ZipFile": self.package},
            "Architectures": desired["Architectures"],
            "Timeout": desired["Timeout"],
            "MemorySize": desired["MemorySize"],
            "Environment": {"Variables": desired["Environment"]},
        }
        if self.layers:
            params["Layers"] = self._layer_values(stack, ctx)
        return [self._waited("create_function", params, "function_active_v2")]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        name = self.physical(ctx)
        calls = []
        # The architecture is a property of the code package: UpdateFunctionCode changes it.
        new_architecture = desired["Architectures"] != current.get("Architectures")
        if desired["CodeSha256"] != current.get("CodeSha256") or new_architecture:
            params = {"FunctionName": name, "ZipFile": self.package, "Architectures": desired["Architectures"]}
            calls.append(self._waited("update_function_code", params, "function_updated_v2"))
        config_keys = ("Handler", "Runtime", "Timeout", "MemorySize", "Environment", "Role", "Layers")
        if any(desired.get(k) != current.get(k) for k in config_keys):
            params = {k: desired[k] for k in config_keys[:-2] if k != "Environment"}
            params["Environment"] = {"Variables": desired["Environment"]}
            params["Role"] = desired["Role"]
            params["Layers"] = self._layer_values(stack, ctx)
            calls.append(
                self._waited("update_function_configuration", {"FunctionName": name, **params}, "function_updated_v2")
            )
        return calls

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return [Call("lambda", "delete_function", {"FunctionName": self.physical(ctx)}, gone_ok=True)]

    def artifact(self) -> bytes:
        return self.package

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        from serverless_testbed.stack.cloudformation import artifact_key, logical_id

        environment = self.environment_values(stack, ctx)
        props: dict[str, Any] = {
            "Type": "AWS::Lambda::Function",
            "FunctionName": self.physical(ctx),
            "Runtime": self.runtime,
            "Architectures": self.architectures(ctx),
            "Handler": self.handler,
            "Role": stack.get(self.role_name).arn(ctx),
            "Timeout": self.timeout,
            "MemorySize": self.memory,
            "Code": artifact_key(self),  # a local path: `aws cloudformation package` uploads it
        }
        if environment:
            props["Environment"] = {"Variables": environment}
        if self.layers:
            props["Layers"] = [
                layer if layer.startswith("arn:") else {"Ref": logical_id(stack.get(layer))} for layer in self.layers
            ]
        return props

    def _waited(self, operation: str, params: dict[str, Any], waiter: str) -> Call:
        return Call("lambda", operation, params, waiter=waiter, waiter_params={"FunctionName": params["FunctionName"]})
