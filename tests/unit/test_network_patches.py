"""The engine's network plugin, its pure parts: loopback hosts, the node preload, the env switch."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from serverless_testbed.engine.embedded import localstack_environment
from serverless_testbed.localstack_plugins.network import (
    NotLoopbackError,
    loopback_interface,
    loopback_listen_script,
    node_command_on_loopback,
)
from serverless_testbed.localstack_plugins.scope import inside_testbed_engine


@pytest.mark.parametrize(
    ("host", "interface"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.0.0.5", "127.0.0.5"),
        ("::1", "::1"),
        ("[::1]", "::1"),
        ("localhost", "127.0.0.1"),
    ],
)
def test_loopback_hosts_are_bound_as_given(host: str, interface: str) -> None:
    assert loopback_interface(host) == interface


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "", "192.0.2.2", "fd00::2", "example.com", "localhost.localstack.cloud"]
)
def test_any_other_listen_host_is_refused(host: str) -> None:
    with pytest.raises(NotLoopbackError, match="loopback address only"):
        loopback_interface(host)


def test_the_plugin_acts_only_inside_an_engine_this_project_started() -> None:
    assert inside_testbed_engine({"TESTBED_ENGINE_ID": "abc123"})
    assert not inside_testbed_engine({})
    assert not inside_testbed_engine({"TESTBED_ENGINE_ID": ""})


def test_every_engine_process_gets_dummy_credentials_and_no_metadata_service(tmp_path: Path) -> None:
    host = {"AWS_ACCESS_KEY_ID": "AKIAREALKEY", "AWS_PROFILE": "prod", "PATH": "/usr/bin"}
    env = localstack_environment("abc123", 4566, tmp_path, host)
    assert env["AWS_ACCESS_KEY_ID"] == "test"
    assert env["AWS_SECRET_ACCESS_KEY"] == "test"
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "AWS_PROFILE" not in env
    assert env["GATEWAY_LISTEN"] == "127.0.0.1:4566"


def test_the_preload_is_required_before_kinesis_mock(tmp_path: Path) -> None:
    preload = loopback_listen_script(tmp_path / "tmp")
    command = node_command_on_loopback(["node", Path("/lib/kinesis-local/main.js")], preload)
    assert command == ["node", "--require", str(preload), Path("/lib/kinesis-local/main.js")]
    with pytest.raises(ValueError, match="expected a node command"):
        node_command_on_loopback(["java", "-jar", "kinesis-mock.jar"], preload)


# Every way node's listen() is called with a wildcard or no host, then one explicit host kept.
LISTEN_FORMS = """
const net = require("net"), tls = require("tls"), http = require("http");
const forms = [
  (s, cb) => s.listen(0, cb),
  (s, cb) => s.listen(0, "0.0.0.0", cb),
  (s, cb) => s.listen(0, "::", cb),
  (s, cb) => s.listen("0", "0.0.0.0", 511, cb),
  (s, cb) => s.listen({ port: 0 }, cb),
  (s, cb) => s.listen({ port: 0, host: "0.0.0.0" }, cb),
  (s, cb) => s.listen(cb),
  (s, cb) => s.listen(0, "127.0.0.1", cb),
];
const makers = [() => net.createServer(), () => tls.createServer(), () => http.createServer()];
const results = [];
let pending = forms.length * makers.length;
for (const make of makers) for (const form of forms) {
  const server = make();
  form(server, () => {
    results.push(server.address().address);
    server.close();
    if (--pending === 0) console.log(JSON.stringify(results));
  });
}
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (kinesis-mock runs on node)")
def test_the_preload_moves_every_node_server_to_loopback(tmp_path: Path) -> None:
    preload = loopback_listen_script(tmp_path)
    script = tmp_path / "forms.js"
    script.write_text(LISTEN_FORMS)
    done = subprocess.run(
        ["node", "--require", str(preload), str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    addresses = json.loads(done.stdout)
    assert len(addresses) == 24, addresses
    assert set(addresses) == {"127.0.0.1"}, addresses


def test_the_preload_file_is_rewritten_only_when_it_differs(tmp_path: Path) -> None:
    first = loopback_listen_script(tmp_path)
    first.write_text("// stale")
    again = loopback_listen_script(tmp_path)
    assert again == first
    assert "net.Server.prototype.listen" in again.read_text()
