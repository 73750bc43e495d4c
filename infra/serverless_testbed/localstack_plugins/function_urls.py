"""Lambda function URLs a client on this host can call.

LocalStack 4.14.0 answers CreateFunctionUrlConfig with a host-style URL,
`http://<url-id>.lambda-url.<region>.127.0.0.1:<port>/`, and routes function URL requests
by that Host header only; no resolver resolves such a name (nor `*.localhost` without
systemd-resolved), and the engine makes no DNS queries anyway. The embedded engine
answers path-style URLs instead, `http://127.0.0.1:<port>/_testbed/lambda-url/<url-id>/`,
and routes them to LocalStack's own function URL handler with the path after the URL id,
so the function's event (`rawPath`, `rawQueryString`, headers, body) is what it would be
on the host-style URL.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from types import ModuleType
from typing import Any
from urllib.parse import urlparse

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)

PATH_PREFIX = "/_testbed/lambda-url"
ROUTER_MODULE = "localstack.services.lambda_.urlrouter"
PROVIDER_MODULE = "localstack.services.lambda_.provider"


def path_style_url(host_and_port: str, url_id: str) -> str:
    """The URL of function URL `url_id` on an engine listening at `host_and_port`."""
    return f"http://{host_and_port}{PATH_PREFIX}/{url_id}/"


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # off in stock mode: the engine answers as stock LocalStack
def path_style_function_urls() -> None:
    after_import(ROUTER_MODULE, _patch_router)
    after_import(PROVIDER_MODULE, _patch_provider)


def _url_config_region(url_id: str) -> str | None:
    """The region of the function URL `url_id`, None when there is none."""
    from localstack.services.lambda_.invocation.models import lambda_stores

    for account in lambda_stores.values():
        for region, store in account.items():
            for fn in store.functions.values():
                if any(config.url_id.lower() == url_id.lower() for config in fn.function_url_configs.values()):
                    return str(region)
    return None


def _patch_router(module: ModuleType) -> None:
    from localstack import config
    from localstack.http import Request, Response
    from localstack.utils.urls import localstack_host
    from rolo.request import restore_payload

    original = module.FunctionUrlRouter.register_routes

    def handle_path_style(router: Any, request: Request, url_id: str, path: str = "") -> Response:
        region = _url_config_region(url_id) or config.DEFAULT_REGION
        headers = dict(request.headers)
        # LocalStack's handler reads the URL id's Host, as the host-style route would give it.
        headers["Host"] = f"{url_id}.lambda-url.{region}.{localstack_host().host_and_port()}"
        forwarded = Request(
            method=request.method,
            path=f"/{path}",
            headers=headers,
            body=restore_payload(request),
            scheme=request.scheme,
            query_string=request.query_string,
            remote_addr=request.remote_addr,
            server=request.server,
        )
        response: Response = router.handle_lambda_url_invocation(forwarded, api_id=url_id, region=region)
        return response

    def register_routes(self: Any) -> None:
        already = self.registered
        original(self)
        if already:
            return
        endpoint = functools.partial(handle_path_style, self)
        self.router.add(f"{PATH_PREFIX}/<url_id>/", endpoint=endpoint)
        self.router.add(f"{PATH_PREFIX}/<url_id>/<path:path>", endpoint=endpoint)
        LOG.debug("function URLs also answer at %s/<url-id>/", PATH_PREFIX)

    module.FunctionUrlRouter.register_routes = register_routes


def _patch_provider(module: ModuleType) -> None:
    from localstack import config
    from localstack.services.lambda_.invocation.models import lambda_stores
    from localstack.utils.urls import localstack_host

    original = module.LambdaProvider.create_function_url_config

    def create_function_url_config(self: Any, context: Any, function_name: str, *args: Any, **kwargs: Any) -> Any:
        response = original(self, context, function_name, *args, **kwargs)
        host_style = response["FunctionUrl"]
        url_id = (urlparse(host_style).hostname or "").split(".")[0]
        url = path_style_url(localstack_host(custom_port=config.GATEWAY_LISTEN[0].port).host_and_port(), url_id)
        # The stored config answers GetFunctionUrlConfig and ListFunctionUrlConfigs too.
        for account in lambda_stores.values():
            for store in account.values():
                for fn in store.functions.values():
                    for qualifier, url_config in fn.function_url_configs.items():
                        if url_config.url_id == url_id:
                            fn.function_url_configs[qualifier] = dataclasses.replace(url_config, url=url)
        response["FunctionUrl"] = url
        return response

    module.LambdaProvider.create_function_url_config = create_function_url_config
