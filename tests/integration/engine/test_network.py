"""The embedded engine answers on loopback only and reaches nothing beyond it.

Functions run as host processes, so a gateway reachable from the network would let anyone
run code on this machine. These tests look at the sockets of every process of the engine
(gateway, kinesis-mock, Lambda workers), connect to the machine's other addresses, and run
`testbed up`, a deploy, a workflow and Kinesis inside a network namespace that has only
`lo`, with every connect of every process traced. They need the embedded engine.
"""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest
from serverless_testbed.engine import Engine
from serverless_testbed.engine.embedded import EmbeddedEngine, shared_lib_dir
from serverless_testbed.settings import Settings
from serverless_testbed.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
NAMESPACE_RUN_TIMEOUT = 480
pytestmark = pytest.mark.embedded_only(reason="the loopback-only network guarantee is the embedded engine's own")


@pytest.fixture(autouse=True)
def embedded_only(settings: Settings) -> None:
    if settings.target != "embedded":
        pytest.skip(f"the network guarantee is the embedded engine's; target is {settings.target}")


@dataclass(frozen=True)
class Listening:
    pid: int
    process: str
    kind: str
    ip: str
    port: int

    def __str__(self) -> str:
        return f"{self.process}[{self.pid}] {self.kind} {self.ip}:{self.port}"


def is_loopback(ip: str) -> bool:
    address = ipaddress.ip_address(ip.split("%")[0])
    mapped = getattr(address, "ipv4_mapped", None)
    return bool((mapped or address).is_loopback)


def listening_sockets(pids: list[int]) -> list[Listening]:
    """TCP sockets in LISTEN and bound UDP sockets with no peer, of the given processes."""
    found = []
    for pid in pids:
        try:
            process = psutil.Process(pid)
            name, connections = process.name(), process.net_connections(kind="inet")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        for conn in connections:
            tcp = conn.type == socket.SOCK_STREAM
            if (tcp and conn.status == psutil.CONN_LISTEN) or (not tcp and not conn.raddr and conn.laddr):
                found.append(Listening(pid, name, "tcp" if tcp else "udp", conn.laddr.ip, conn.laddr.port))
    return found


def embedded(engine: Engine) -> EmbeddedEngine:
    assert isinstance(engine, EmbeddedEngine), f"expected the embedded engine, got {type(engine).__name__}"
    return engine


@pytest.fixture(scope="module")
def kinesis_mock_running(engine: Engine, aws: Callable[[str], Any]) -> Iterator[str]:
    """A Kinesis stream on the session's engine, so that kinesis-mock is running."""
    kinesis = aws("kinesis")
    name = f"network-{os.getpid()}"
    kinesis.create_stream(StreamName=name, ShardCount=1)

    def active() -> bool:
        summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        return bool(summary["StreamStatus"] == "ACTIVE")

    wait_for(active, timeout=120, interval=0.1, what=f"Kinesis stream {name} to be ACTIVE")
    yield name
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)


def test_every_listening_socket_of_the_engine_is_on_loopback(engine: Engine, kinesis_mock_running: str) -> None:
    running = embedded(engine)
    assert running.record is not None
    sockets = listening_sockets(running.processes())
    described = "\n".join(map(str, sockets))
    # The gateway and kinesis-mock's two ports must be among them, or the check proves nothing.
    assert any(s.port == running.record.port for s in sockets), (
        f"no gateway on port {running.record.port}:\n{described}"
    )
    assert sum(s.process == "node" for s in sockets) >= 2, f"kinesis-mock (node) listens on no port:\n{described}"
    exposed = [str(s) for s in sockets if not is_loopback(s.ip)]
    assert not exposed, "engine sockets listening beyond loopback:\n" + "\n".join(exposed)


def non_loopback_addresses() -> list[str]:
    """The machine's own addresses other than loopback (IPv6 link-local left out: it needs a scope)."""
    addresses = []
    for entries in psutil.net_if_addrs().values():
        for entry in entries:
            if entry.family not in (socket.AF_INET, socket.AF_INET6):
                continue
            address = ipaddress.ip_address(entry.address.split("%")[0])
            if not address.is_loopback and not address.is_link_local:
                addresses.append(str(address))
    return addresses


def test_the_engine_refuses_connections_on_the_machines_other_addresses(
    engine: Engine, kinesis_mock_running: str
) -> None:
    addresses = non_loopback_addresses()
    if not addresses:
        pytest.skip("this machine has no address but loopback")
    running = embedded(engine)
    assert running.record is not None
    ports = sorted({running.record.port} | {s.port for s in listening_sockets(running.processes()) if s.kind == "tcp"})
    answered = []
    for address in addresses:
        for port in ports:
            try:
                with socket.create_connection((address, port), timeout=5):
                    answered.append(f"{address}:{port} accepted the connection")
            except ConnectionRefusedError:
                continue
            except OSError as err:
                answered.append(f"{address}:{port} neither accepted nor refused: {err!r}")
    assert not answered, f"expected every connection to {addresses} on ports {ports} refused:\n" + "\n".join(answered)


# --- nothing beyond loopback: a whole session in a namespace with only `lo`, every connect traced

# A sockaddr in strace's output: the address and port a connect/sendto/sendmsg went to.
IPV4 = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
IPV6 = re.compile(r'sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')
DNS_PORT = 53


def beyond_loopback(trace: str) -> list[str]:
    """Trace lines that reach beyond loopback, or ask a DNS server (names not in the hosts file)."""
    flagged = []
    for line in trace.splitlines():
        for pattern in (IPV4, IPV6):
            for port, address in pattern.findall(line):
                if not is_loopback(address) or int(port) == DNS_PORT:
                    flagged.append(line.strip()[:300])
    return flagged


def loopback_connects(trace: str, port: int) -> int:
    return sum(
        1 for line in trace.splitlines() if " connect(" in line and f"htons({port})" in line and "127.0.0.1" in line
    )


SESSION = r"""
set -eu
trap '"$BIN/testbed" down' EXIT
"$BIN/testbed" up
# The plan reads every kind of resource (API Gateway through moto, S3, Lambda...).
"$BIN/testbed" deploy --plan > /dev/null
"$BIN/testbed" deploy -w orders
"$BIN/testbed" run orders --records 5 --invalid-rate 0.2 --seed 3
eval "$("$BIN/testbed" env)"
"$BIN/python" - <<'EOF'
import boto3
from serverless_testbed.waiting import wait_for
kinesis = boto3.client("kinesis")
kinesis.create_stream(StreamName="namespace", ShardCount=1)
wait_for(
    lambda: kinesis.describe_stream_summary(StreamName="namespace")["StreamDescriptionSummary"]["StreamStatus"]
    == "ACTIVE",
    timeout=120, interval=0.1, what="Kinesis stream namespace to be ACTIVE",
)
shard = kinesis.put_record(StreamName="namespace", Data=b"inside", PartitionKey="k")["ShardId"]
iterator = kinesis.get_shard_iterator(StreamName="namespace", ShardId=shard, ShardIteratorType="TRIM_HORIZON")
records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
assert [r["Data"] for r in records] == [b"inside"], records
print("kinesis ok")
EOF
"$BIN/testbed" status
"""


def unshare_prefix() -> list[str]:
    """How this user enters a new network namespace (as root, or mapped to root), or skip."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed: it makes the loopback-only network namespace")
    errors = []
    for prefix in (["unshare", "--net"], ["unshare", "--map-root-user", "--net"]):
        tried = subprocess.run([*prefix, "true"], capture_output=True, text=True, check=False)
        if tried.returncode == 0:
            return prefix
        errors.append(f"{shlex.join(prefix)}: {tried.stderr.strip()}")
    pytest.skip("a network namespace is not permitted here: " + "; ".join(errors))


@pytest.fixture
def kinesis_mock_installed(request: pytest.FixtureRequest) -> None:
    """kinesis-mock comes from npm at first use; the namespace has no registry, so install it first."""
    if not list(shared_lib_dir().glob("kinesis-local/*/node_modules/kinesis-local/main.js")):
        request.getfixturevalue("kinesis_mock_running")


@pytest.mark.slow
@pytest.mark.timeout(NAMESPACE_RUN_TIMEOUT + 60)
def test_up_deploy_run_and_kinesis_reach_nothing_beyond_loopback(tmp_path: Path, kinesis_mock_installed: None) -> None:
    prefix = unshare_prefix()
    strace, ip = shutil.which("strace"), shutil.which("ip") or shutil.which("ip", path="/usr/sbin:/sbin")
    if strace is None:
        pytest.skip("strace is not installed: it is how this test sees every connect of every engine process")
    if ip is None:
        pytest.skip("ip (iproute2) is not installed: it brings up lo in the namespace")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TESTBED_", "LOCALSTACK_"))}
    env.update(
        BIN=str(BIN),
        TESTBED_STATE_DIR=str(tmp_path / "state"),
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-config"),
    )
    script, trace_file = tmp_path / "session.sh", tmp_path / "trace.txt"
    script.write_text(SESSION)
    traced = [strace, "-f", "-qq", "-o", str(trace_file), "-e", "trace=connect,sendto,sendmsg,sendmmsg,execve"]
    inner = f"{shlex.quote(ip)} link set lo up && exec {shlex.join([*traced, 'sh', str(script)])}"
    try:
        done = subprocess.run(
            [*prefix, "sh", "-c", inner],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=NAMESPACE_RUN_TIMEOUT,
            check=False,
        )
    finally:
        # Stops the engine if the session was cut short (signals cross the namespace; HTTP does not).
        subprocess.run([str(BIN / "testbed"), "down"], env=env, cwd=ROOT, capture_output=True, timeout=60, check=False)
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"the session in the namespace failed:\n{output[-4000:]}"
    assert "kinesis ok" in output, output[-4000:]

    trace = trace_file.read_text(errors="replace")
    port_match = re.search(r"at http://127\.0\.0\.1:(\d+)", output)
    assert port_match, f"testbed up printed no endpoint:\n{output[-2000:]}"
    # The trace must have followed the engine and kinesis-mock, or an empty result proves nothing.
    assert loopback_connects(trace, int(port_match.group(1))) > 10, "the trace saw no calls to the engine"
    assert re.search(r'execve\("[^"]*node"', trace), "the trace saw no kinesis-mock (node) start"
    flagged = beyond_loopback(trace)
    assert not flagged, f"{len(flagged)} connects or DNS queries beyond loopback:\n" + "\n".join(dict.fromkeys(flagged))
