"""The engine answers on loopback only and asks nothing beyond it (an on_infra_start hook).

LocalStack 4.14.0 drops the host of an IPv4 `GATEWAY_LISTEN` address (its Twisted server
builds `TCP4ServerEndpoint(reactor, port)`, every interface), and kinesis-mock binds
`0.0.0.0` on both its ports with no setting to change it. Since Lambda functions run as
host processes, anyone who reaches the gateway can run code on this machine. So inside an
engine this project started (`TESTBED_ENGINE_ID` is set) the gateway binds the host it is
given, which must be a loopback address, and kinesis-mock's node servers are moved to
127.0.0.1 by a preloaded script.

Nothing leaves loopback either: LocalStack's internal S3 clients look `s3.<LOCALSTACK_HOST>`
up in the system resolver to choose their endpoint host; `s3.127.0.0.1` never resolves and
they fall back to localhost, so they now use localhost without asking. The engine's dummy
credentials and `AWS_EC2_METADATA_DISABLED` keep botocore off the instance metadata service
(see `serverless_testbed.engine.embedded.localstack_environment`).
"""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from types import ModuleType
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)
TWISTED_SERVER_MODULE = "localstack.runtime.server.twisted"
KINESIS_MOCK_MODULE = "localstack.services.kinesis.kinesis_mock_server"
AWS_STACK_MODULE = "localstack.utils.aws.aws_stack"

# Loaded into kinesis-mock with `node --require`: every server it starts listens on loopback.
LOOPBACK_LISTEN_JS = """\
"use strict";
// testbed: kinesis-mock binds 0.0.0.0 and has no setting for its host; bind loopback instead.
const net = require("net");
const LOOPBACK = "127.0.0.1";
const anyHost = (host) => host === undefined || host === null || host === "" || host === "0.0.0.0" || host === "::";
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const first = args[0];
  if (first !== null && typeof first === "object" && first.path === undefined && first.handle === undefined
      && first.fd === undefined && !(first instanceof net.Server)) {
    if (anyHost(first.host)) args[0] = Object.assign({}, first, { host: LOOPBACK });
  } else if (typeof first === "function") {
    args.unshift(0, LOOPBACK);
  } else if (first === undefined || typeof first === "number" || (typeof first === "string" && /^\\d+$/.test(first))) {
    if (args.length < 2 || typeof args[1] !== "string") args.splice(1, 0, LOOPBACK);
    else if (anyHost(args[1])) args[1] = LOOPBACK;
    if (first === undefined) args[0] = 0;
  }
  return listen.apply(this, args);
};
"""


class NotLoopbackError(ValueError):
    """A listen address of the engine that is not a loopback address."""


def loopback_interface(host: str) -> str:
    """The loopback address to bind for a listen host; anything else is refused."""
    if host.strip("[]") == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise NotLoopbackError(f"the testbed engine listens on a loopback address only, not {host!r}") from None
    if not address.is_loopback:
        raise NotLoopbackError(f"the testbed engine listens on a loopback address only, not {host!r}")
    return str(address)


def loopback_listen_script(directory: Path) -> Path:
    """Write the node preload that moves servers to loopback; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "testbed-loopback-listen.js"
    if not path.exists() or path.read_text() != LOOPBACK_LISTEN_JS:
        path.write_text(LOOPBACK_LISTEN_JS)
    return path


def node_command_on_loopback(command: list[Any], preload: Path) -> list[Any]:
    """`node main.js ...` with the loopback preload required first."""
    if not command or Path(str(command[0])).name != "node":
        raise ValueError(f"expected a node command, got {command!r}")
    return [command[0], "--require", str(preload), *command[1:]]


@hooks.on_infra_start(priority=100)
@only_in_testbed_engine()
def loopback_only() -> None:
    after_import(TWISTED_SERVER_MODULE, _bind_gateway_to_its_host)
    after_import(KINESIS_MOCK_MODULE, _kinesis_mock_on_loopback)
    after_import(AWS_STACK_MODULE, _no_s3_hostname_lookup)


def _bind_gateway_to_its_host(module: ModuleType) -> None:
    from localstack import config
    from localstack.aws.serving.twisted import TLSMultiplexerFactory
    from rolo.serving.twisted import TwistedGateway
    from twisted.internet import endpoints as twisted_endpoints
    from twisted.internet import reactor
    from twisted.internet import ssl as twisted_ssl

    # Twisted's typing is partial; these are used exactly as LocalStack uses them.
    endpoints: Any = twisted_endpoints
    ssl: Any = twisted_ssl

    def register(self: Any, gateway: Any, listen: list[Any], ssl_creds: tuple[str, str] | None = None) -> None:
        # As LocalStack's own register, but each endpoint binds the (loopback) host it was given.
        site = TwistedGateway(gateway)
        protocol_factory: Any = site
        if ssl_creds:
            cert_file_name, key_file_name = ssl_creds
            context_factory = ssl.DefaultOpenSSLContextFactory(key_file_name, cert_file_name)
            context_factory.getContext().use_certificate_chain_file(cert_file_name)
            protocol_factory = TLSMultiplexerFactory(context_factory, False, site)
        for host_and_port in listen:
            interface = loopback_interface(host_and_port.host)
            if config.is_ipv6_address(interface):
                endpoint = endpoints.TCP6ServerEndpoint(reactor, host_and_port.port, interface=interface)
            else:
                endpoint = endpoints.TCP4ServerEndpoint(reactor, host_and_port.port, interface=interface)
            endpoint.listen(protocol_factory)

    module.TwistedRuntimeServer.register = register
    LOG.debug("gateway binds its loopback host only")


def _kinesis_mock_on_loopback(module: ModuleType) -> None:
    from localstack import config

    original = module.KinesisMockNodeServer._create_shell_command

    def _create_shell_command(self: Any) -> tuple[list[Any], dict[str, Any]]:
        command, env_vars = original(self)
        preload = loopback_listen_script(Path(config.dirs.tmp))
        return node_command_on_loopback(command, preload), env_vars

    module.KinesisMockNodeServer._create_shell_command = _create_shell_command
    LOG.debug("kinesis-mock listens on loopback only")


def _no_s3_hostname_lookup(module: ModuleType) -> None:
    # Internal S3 clients reach the gateway at localhost either way; the lookup of s3.<host>
    # (s3.127.0.0.1 here, a name no resolver knows) would only ask the system resolver.
    setattr(module, "CACHE_S3_HOSTNAME_DNS_STATUS", False)  # noqa: B010 - module attribute patch
    LOG.debug("s3 virtual host name is not looked up")
