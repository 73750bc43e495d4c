"""The embedded target: LocalStack 4.14.0 as a plain child process, no Docker.

Each engine gets a directory of its own (filesystem root, tmp, config, caches) and a
free port on 127.0.0.1. Packages LocalStack installs at first use (kinesis-mock...)
live in one shared cache, so a second start does not download again. Lambda runs
through the `local-process` executor and DynamoDB through moto (see
`infra.localstack_plugins`). A supervisor process owns LocalStack's process group so
that stopping the engine, or killing its parent, leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

from infra.engine.base import Engine
from infra.errors import EngineError, WaitTimeout
from infra.settings import Settings
from infra.waiting import wait_for

READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0
ENGINE_ID_VAR = "TESTBED_ENGINE_ID"


def shared_lib_dir() -> Path:
    """Where LocalStack's lazily installed packages are kept between engines."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "testbed" / "localstack-4.14.0" / "lib"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass(frozen=True)
class EngineRecord:
    """What is needed to find a running embedded engine again (`testbed up` state)."""

    engine_id: str
    pid: int
    port: int
    root: str
    region: str

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> EngineRecord | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError, TypeError):
            return None


# How the host reaches the package registries (proxy, extra CA certificates). LocalStack's
# first-use installs (npm for kinesis-local) fail on a TLS-intercepting proxy without them.
NETWORK_VARIABLES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
)


def localstack_environment(
    engine_id: str, port: int, root: Path, host_environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """LocalStack's configuration for an isolated, Docker-free engine."""
    host = os.environ if host_environ is None else host_environ
    fs = root / "fs"
    return {
        # Only what LocalStack needs from the host: no AWS_* or LocalStack settings leak in.
        **{name: host[name] for name in NETWORK_VARIABLES if host.get(name)},
        "PATH": host.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "LANG": "C.UTF-8",
        ENGINE_ID_VAR: engine_id,
        "GATEWAY_LISTEN": f"127.0.0.1:{port}",
        "LOCALSTACK_HOST": f"127.0.0.1:{port}",
        # This machine looks like a container to LocalStack (/.dockerenv); it is not one.
        "OVERRIDE_IN_DOCKER": "0",
        "FILESYSTEM_ROOT": str(fs),
        "TMPDIR": str(root / "tmp"),
        "XDG_CACHE_HOME": str(root / "cache"),
        "CONFIG_DIR": str(root / "config"),
        "DNS_ADDRESS": "0",
        "SKIP_SSL_CERT_DOWNLOAD": "1",
        "DISABLE_EVENTS": "1",
        # Internal calls (Step Functions to Lambda, Lambda logs, metrics) skip the HTTP hop.
        "IN_MEMORY_CLIENT": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
        "PYTHONUNBUFFERED": "1",
        # Nothing beyond loopback: botocore in the engine (moto builds boto3 clients) must find
        # credentials at once and never ask the instance metadata service (169.254.169.254).
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def engine_processes(engine_id: str, root: str) -> list[int]:
    """Pids of every process that belongs to an engine: LocalStack and its children carry
    its id in their environment; Lambda workers (clean environment) run code under its root."""
    marker = f"{ENGINE_ID_VAR}={engine_id}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker in environ.split(b"\0") or root.encode() in cmdline:
            found.append(int(entry))
    return found


class EmbeddedEngine(Engine):
    """LocalStack started by this project as a child process."""

    name = "embedded"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        detach: bool = False,
        record: EngineRecord | None = None,
    ) -> None:
        super().__init__(settings or Settings(target="embedded"))
        self.detach = detach
        self.record = record
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str | None:
        return self.record.endpoint_url if self.record else None

    @property
    def log_path(self) -> Path:
        if not self.record:
            raise EngineError("engine not started")
        return Path(self.record.root) / "localstack.log"

    def start(self) -> Self:
        if self.record is not None:
            return self
        engine_id = uuid.uuid4().hex[:12]
        root = Path(tempfile.mkdtemp(prefix=f"testbed-{engine_id}-"))
        port = free_port()
        self._prepare_dirs(root)
        env = localstack_environment(engine_id, port, root)
        env["TESTBED_PARENT_PID"] = str(os.getpid())
        command = [sys.executable, "-m", "infra.engine.supervisor"]
        if not self.detach:
            command += ["--die-with-parent", f"--cleanup-dir={root}"]
        command += ["--", sys.executable, "-m", "infra.engine.localstack_main"]
        with open(root / "localstack.log", "wb") as log:
            self._process = subprocess.Popen(
                command,
                env=env,
                cwd=root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.record = EngineRecord(engine_id, self._process.pid, port, str(root), self.region)
        try:
            # A short fixed interval: readiness is the number users wait on, worth 40 probes a second.
            wait_for(
                self._ready,
                timeout=READY_TIMEOUT,
                interval=0.025,
                max_interval=0.025,
                what=f"LocalStack health on port {port}",
            )
        except Exception as err:
            log_tail = self._log_tail()
            self.stop()
            raise EngineError(f"embedded engine did not start: {err}\n{log_tail}") from err
        return self

    def _prepare_dirs(self, root: Path) -> None:
        for sub in ("home", "tmp", "cache", "config", "fs/var/lib/localstack"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        shared = shared_lib_dir()
        shared.mkdir(parents=True, exist_ok=True)
        (root / "fs/var/lib/localstack/lib").symlink_to(shared, target_is_directory=True)

    def _ready(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise EngineError(f"LocalStack exited with code {self._process.returncode}")
        return self.is_healthy()

    def is_healthy(self) -> bool:
        """True when LocalStack's health endpoint answers."""
        try:
            with urllib.request.urlopen(f"{self.endpoint_url}/_localstack/health", timeout=2) as r:
                return bool(r.status == 200 and json.load(r).get("services"))
        except OSError:
            return False

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except (OSError, EngineError):
            return ""

    def processes(self) -> list[int]:
        """Every live process of this engine (LocalStack, supervisor, workers, kinesis-mock)."""
        if not self.record:
            return []
        return engine_processes(self.record.engine_id, self.record.root)

    def stop(self) -> None:
        record = self.record
        if record is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signal.SIGTERM)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=STOP_TIMEOUT)
        # The supervisor stops LocalStack and its group; a detached engine's supervisor is
        # not our child, and Lambda workers leave through their lifeline: wait for all.
        try:
            wait_for(
                lambda: not engine_processes(record.engine_id, record.root),
                timeout=STOP_TIMEOUT,
                what=f"the processes of engine {record.engine_id} to exit",
            )
        except WaitTimeout:
            for pid in engine_processes(record.engine_id, record.root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        shutil.rmtree(record.root, ignore_errors=True)
        self.record = None
        self._process = None
