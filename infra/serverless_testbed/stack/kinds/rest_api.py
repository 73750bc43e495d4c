"""API Gateway REST APIs: one method on one path, proxied to a function."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError
from serverless_testbed.clients import Clients
from serverless_testbed.stack.answers import absent
from serverless_testbed.stack.calls import Call, Saved
from serverless_testbed.stack.resource import Context, Ref, Resource, State
from serverless_testbed.stack.stack import Stack


@dataclass(frozen=True)
class RestApi(Resource):
    """An API Gateway REST API: one `method` on `path`, proxied to a function, on `stage`."""

    path: str = "process-data"
    method: str = "POST"
    function: str = ""
    stage: str = "dev"

    kind = "rest-api"
    services = ("apigateway",)
    name_limit = ("API Gateway REST API", 1024)

    def arn(self, ctx: Context) -> str:
        return f"arn:{ctx.partition}:apigateway:{ctx.region}::/restapis/{self.physical(ctx)}"

    def refs(self) -> Iterator[Ref]:
        yield Ref(self.function)

    def depends_on(self, stack: Stack) -> set[str]:
        return {self.function}

    def integration_uri(self, stack: Stack, ctx: Context) -> str:
        function_arn = stack.get(self.function).arn(ctx)
        return (
            f"arn:{ctx.partition}:apigateway:{ctx.region}:lambda:path/2015-03-31/functions/{function_arn}/invocations"
        )

    def desired(self, stack: Stack, ctx: Context) -> State:
        return {"integration": self.integration_uri(stack, ctx), "stage": self.stage}

    def read(self, clients: Clients, ctx: Context) -> State | None:
        gateway = clients("apigateway")
        name = self.physical(ctx)
        found = [item for item in gateway.get_rest_apis(limit=500)["items"] if item["name"] == name]
        if not found:
            return None
        api_id = found[0]["id"]
        state: State = {"_id": api_id, "integration": None, "stage": None}
        for resource in gateway.get_resources(restApiId=api_id)["items"]:
            if resource.get("path") == f"/{self.path}" and self.method in resource.get("resourceMethods", {}):
                try:
                    integration = gateway.get_integration(
                        restApiId=api_id, resourceId=resource["id"], httpMethod=self.method
                    )
                    state["integration"] = integration.get("uri")
                except ClientError as err:
                    if not absent(err):
                        raise
        stages = {s["stageName"] for s in gateway.get_stages(restApiId=api_id).get("item", [])}
        state["stage"] = self.stage if self.stage in stages else None
        return state

    def create(self, stack: Stack, ctx: Context, desired: State) -> list[Call]:
        api_id = Saved("api_id")
        function = stack.get(self.function)
        return [
            Call(
                "apigateway",
                "create_rest_api",
                {"name": self.physical(ctx), "endpointConfiguration": {"types": ["REGIONAL"]}},
                save={"api_id": "id"},
            ),
            Call("apigateway", "get_resources", {"restApiId": api_id}, save={"root_id": "items[?path=='/'].id | [0]"}),
            Call(
                "apigateway",
                "create_resource",
                {"restApiId": api_id, "parentId": Saved("root_id"), "pathPart": self.path},
                save={"resource_id": "id"},
            ),
            Call(
                "apigateway",
                "put_method",
                {
                    "restApiId": api_id,
                    "resourceId": Saved("resource_id"),
                    "httpMethod": self.method,
                    "authorizationType": "NONE",
                },
            ),
            Call(
                "apigateway",
                "put_integration",
                {
                    "restApiId": api_id,
                    "resourceId": Saved("resource_id"),
                    "httpMethod": self.method,
                    "type": "AWS_PROXY",
                    "integrationHttpMethod": "POST",
                    "uri": desired["integration"],
                },
            ),
            Call(
                "lambda",
                "add_permission",
                {
                    "FunctionName": function.physical(ctx),
                    "StatementId": f"testbed-{self.name}",
                    "Action": "lambda:InvokeFunction",
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": Saved("api_id", ctx.arn("execute-api", f"{{}}/*/{self.method}/{self.path}")),
                },
            ),
            Call("apigateway", "create_deployment", {"restApiId": api_id, "stageName": self.stage}),
        ]

    def update(self, stack: Stack, ctx: Context, desired: State, current: State) -> list[Call]:
        # The existing API is replaced: it is one method, and its id is not part of any other resource.
        return self.delete(ctx, current) + self.create(stack, ctx, desired)

    def delete(self, ctx: Context, current: State) -> list[Call]:
        return [
            Call(
                "lambda",
                "remove_permission",
                {"FunctionName": ctx.name(self.function), "StatementId": f"testbed-{self.name}"},
                gone_ok=True,
            ),
            Call("apigateway", "delete_rest_api", {"restApiId": current["_id"]}, gone_ok=True),
        ]

    def url(self, clients: Clients, ctx: Context, endpoint_url: str | None) -> str | None:
        """The invoke URL of the deployed API: AWS's form, or the emulator's path form."""
        for item in clients("apigateway").get_rest_apis(limit=500)["items"]:
            if item["name"] == self.physical(ctx):
                if endpoint_url:
                    return f"{endpoint_url}/_aws/execute-api/{item['id']}/{self.stage}/{self.path}"
                return f"https://{item['id']}.execute-api.{ctx.region}.amazonaws.com/{self.stage}/{self.path}"
        return None

    def cloudformation(self, stack: Stack, ctx: Context) -> dict[str, Any]:
        from serverless_testbed.stack.cloudformation import logical_id

        api_id = logical_id(self)
        function = stack.get(self.function)
        extra = {
            f"{api_id}Resource": {
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {
                    "RestApiId": {"Ref": api_id},
                    "ParentId": {"Fn::GetAtt": [api_id, "RootResourceId"]},
                    "PathPart": self.path,
                },
            },
            f"{api_id}Method": {
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": {"Ref": api_id},
                    "ResourceId": {"Ref": f"{api_id}Resource"},
                    "HttpMethod": self.method,
                    "AuthorizationType": "NONE",
                    "Integration": {
                        "Type": "AWS_PROXY",
                        "IntegrationHttpMethod": "POST",
                        "Uri": {"Fn::Sub": self.integration_uri(stack, ctx)},
                    },
                },
            },
            f"{api_id}Deployment": {
                "Type": "AWS::ApiGateway::Deployment",
                "DependsOn": [f"{api_id}Method"],
                "Properties": {"RestApiId": {"Ref": api_id}, "StageName": self.stage},
            },
            f"{api_id}Permission": {
                "Type": "AWS::Lambda::Permission",
                "DependsOn": [logical_id(function)],
                "Properties": {
                    "FunctionName": {"Fn::Sub": function.physical(ctx)},
                    "Action": "lambda:InvokeFunction",
                    "Principal": "apigateway.amazonaws.com",
                    "SourceArn": {"Fn::Sub": ctx.arn("execute-api", f"${{{api_id}}}/*/{self.method}/{self.path}")},
                },
            },
        }
        return {"Type": "AWS::ApiGateway::RestApi", "Name": self.physical(ctx), "_extra": extra}

    def outputs(self, ctx: Context, key: str) -> dict[str, Any]:
        url = f"https://${{{key}}}.execute-api.${{AWS::Region}}.${{AWS::URLSuffix}}/{self.stage}/{self.path}"
        return {f"{key}Url": {"Description": f"{self.method} here ({self.name})", "Value": {"Fn::Sub": url}}}
