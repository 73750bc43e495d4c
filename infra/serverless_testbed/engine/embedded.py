"""The embedded target: LocalStack 4.14.0 as a plain child process, no Docker.

Each engine gets a directory of its own (filesystem root, tmp, config, caches) and a
free port on 127.0.0.1 (or the one asked for; a port another process holds is reported
as "port N is in use" as soon as LocalStack fails to bind it). Packages LocalStack
installs at first use (kinesis-mock...) live in one shared cache, so a second start
does not download again. Lambda runs through the `local-process` executor and DynamoDB
through moto (see `serverless_testbed.localstack_plugins`). A supervisor process owns LocalStack's process group so
that stopping the engine, or killing its parent, leaves nothing behind. A record of a
detached engine is trusted only as far as /proc confirms it: the recorded pid must still
be the supervisor it started (start time and engine id), and the recorded directory must
carry the engine's id, before anything is signalled or deleted.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import urllib.request
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

from serverless_testbed import procfs
from serverless_testbed.engine.base import Engine
from serverless_testbed.engine.service_catalog import link_catalog, shared_catalog
from serverless_testbed.engine.venv import (
    CACHE_VAR,
    UV_VAR,
    EngineVenv,
    cache_root,
    engine_venv,
    plugin_path,
    uv_binary,
)
from serverless_testbed.errors import BadInput, EngineError, WaitTimeout
from serverless_testbed.localstack_plugins.iam_mode import IAM_ENFORCE_VAR, iam_enforcement_on
from serverless_testbed.localstack_plugins.lambda_environments import (
    MAX_ENVIRONMENTS_DEFAULT,
    MAX_ENVIRONMENTS_VAR,
    max_environments,
)
from serverless_testbed.localstack_plugins.scope import ENGINE_ID_VAR, ENGINE_MODE_VAR, EngineMode, engine_mode
from serverless_testbed.localstack_plugins.sfn_retry_scale import RETRY_SCALE_VAR, retry_scale
from serverless_testbed.settings import LOCALSTACK_VERSION, Settings
from serverless_testbed.waiting import wait_for

READY_TIMEOUT = 60.0
# In the environment of an engine `testbed up` started: the state folder it belongs to.
SCOPE_VAR = "TESTBED_ENGINE_SCOPE"
STOP_TIMEOUT = 15.0
# In the engine's directory: its id (what makes the directory the engine's own) and why it ended.
ID_FILE = "engine-id"
EXIT_FILE = "exit.json"
# How Twisted reports a port it cannot bind; LocalStack logs it and carries on.
PORT_TAKEN_MARKERS = ("CannotListenError", "Address already in use")


class PortInUse(EngineError):
    """The engine's port is held by another process."""

    def __init__(self, port: int, detail: str = "") -> None:
        super().__init__(f"port {port} is in use{detail}; stop what holds it or choose another port")
        self.port = port


def shared_lib_dir() -> Path:
    """Where LocalStack's lazily installed packages are kept between engines."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "testbed" / f"localstack-{LOCALSTACK_VERSION}" / "lib"


def engines_dir() -> Path:
    """Where engines keep their folders: not under /tmp, which each Lambda execution environment
    covers with a /tmp of its own (its code and logs lie in the engine's folder). $TESTBED_RUN_DIR,
    else $XDG_RUNTIME_DIR/serverless-testbed (a per-user tmpfs), else /var/tmp/serverless-testbed-<uid>."""
    if explicit := os.environ.get("TESTBED_RUN_DIR"):
        folder = Path(explicit)
    elif (runtime := os.environ.get("XDG_RUNTIME_DIR")) and Path(runtime).is_dir():
        folder = Path(runtime) / "serverless-testbed"
    else:
        folder = Path("/var/tmp") / f"serverless-testbed-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


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
    # The supervisor's start time (clock ticks since boot): with the pid, names one process.
    started: int = 0

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return Path(self.root) / "localstack.log"

    def supervisor_is_ours(self) -> bool:
        """True when the recorded pid is still this engine's supervisor, not a reused pid."""
        if self.started and procfs.start_time(self.pid) != self.started:
            return False
        return procfs.is_running(self.pid) and procfs.has_variable(self.pid, ENGINE_ID_VAR, self.engine_id)

    def root_is_ours(self) -> bool:
        """True when the recorded directory is this engine's: named for it, and holding its
        id or (records of earlier versions) the working directory of its verified supervisor."""
        root = Path(self.root)
        if not root.name.startswith(f"testbed-{self.engine_id}-") or root.is_symlink():
            return False
        try:
            return (root / ID_FILE).read_text().strip() == self.engine_id
        except OSError:
            pass
        try:
            return self.supervisor_is_ours() and os.readlink(f"/proc/{self.pid}/cwd") == self.root
        except OSError:
            return False

    def exit_reason(self) -> str | None:
        """Why the engine ended, as its supervisor wrote it; None if it did not say."""
        try:
            reason = json.loads((Path(self.root) / EXIT_FILE).read_text())["reason"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return str(reason)

    def save(self, path: Path) -> None:
        """Write the record; OSError (a full disk) leaves no partial file behind."""
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: a reader sees the old record or the new one, never half.
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        try:
            partial.write_text(json.dumps(asdict(self), indent=2))
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: Path) -> EngineRecord | None:
        """The record at `path`; None when there is none; RecordUnreadable (saying what is
        wrong with it) when it is empty, cut short, not UTF-8 or not a record."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise RecordUnreadable(path, f"cannot be read ({err.strerror or err})") from err
        if not data.strip():
            raise RecordUnreadable(path, "is empty")
        try:
            fields = json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as err:
            raise RecordUnreadable(path, "is not UTF-8 text") from err
        except json.JSONDecodeError as err:
            raise RecordUnreadable(path, f"is not whole JSON ({err.msg} at byte {err.pos})") from err
        try:
            record = cls(**fields)
        except TypeError as err:
            raise RecordUnreadable(path, "is not an engine record (its fields are not the ones written)") from err
        if not isinstance(record.pid, int) or not isinstance(record.port, int) or not isinstance(record.root, str):
            raise RecordUnreadable(path, "is not an engine record (pid, port or root of the wrong type)")
        return record


class RecordUnreadable(EngineError):
    """The engine record exists but cannot be used; `testbed down` stops the project's engine
    by the marker its processes carry and clears the record."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"the engine record {path} {what}; `testbed down` stops this project's engine and clears it")
        self.path = path


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


LAMBDA_IDLE_VAR = "TESTBED_LAMBDA_IDLE_SECONDS"
LAMBDA_IDLE_DEFAULT_SECONDS = 120.0


def lambda_idle_seconds(environ: Mapping[str, str]) -> float:
    """How long a Lambda worker may sit idle before the engine stops it: TESTBED_LAMBDA_IDLE_SECONDS,
    else LAMBDA_IDLE_DEFAULT_SECONDS; anything but a positive number is refused, naming the variable."""
    value = (environ.get(LAMBDA_IDLE_VAR) or "").strip()
    if not value:
        return LAMBDA_IDLE_DEFAULT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise BadInput(
            f"{LAMBDA_IDLE_VAR}={value!r} is not a positive number of seconds (default {LAMBDA_IDLE_DEFAULT_SECONDS:g})"
        )
    return seconds


def lambda_max_environments(environ: Mapping[str, str]) -> int:
    """TESTBED_LAMBDA_MAX_ENVIRONMENTS for the engine, checked here so a bad value stops `up`
    with one line instead of failing inside the engine."""
    try:
        return max_environments(environ)
    except ValueError as err:
        raise BadInput(f"{err} (default {MAX_ENVIRONMENTS_DEFAULT})") from err


def localstack_environment(
    engine_id: str,
    port: int,
    root: Path,
    host_environ: Mapping[str, str] | None = None,
    mode: EngineMode = "full",
    iam_enforce: bool = True,
) -> dict[str, str]:
    """LocalStack's configuration for an isolated, Docker-free engine; in `stock` mode the
    fidelity patches stay off (serverless_testbed.localstack_plugins.scope), IAM enforcement with them
    (serverless_testbed.localstack_plugins.iam_enforcement)."""
    host = os.environ if host_environ is None else host_environ
    fs = root / "fs"
    return {
        # Only what LocalStack needs from the host: no AWS_* or LocalStack settings leak in.
        **{name: host[name] for name in NETWORK_VARIABLES if host.get(name)},
        "PATH": host.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(root / "home"),
        "LANG": "C.UTF-8",
        ENGINE_ID_VAR: engine_id,
        ENGINE_MODE_VAR: mode,
        IAM_ENFORCE_VAR: "1" if iam_enforce and mode == "full" else "0",
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
        # Queue URLs whose host resolves: http://127.0.0.1:<port>/queue/<region>/<account>/<name>. The
        # default strategy names sqs.<region>.127.0.0.1, which no resolver knows (curl and requests fail).
        "SQS_ENDPOINT_STRATEGY": "path",
        # Internal calls (Step Functions to Lambda, Lambda logs, metrics) skip the HTTP hop.
        "IN_MEMORY_CLIENT": "1",
        "LAMBDA_RUNTIME_EXECUTOR": "local-process",
        # An idle execution environment is stopped (its worker process ends), as AWS reclaims idle sandboxes.
        "LAMBDA_KEEPALIVE_MS": str(round(lambda_idle_seconds(host) * 1000)),
        # At most this many workers per function version (localstack_plugins/lambda_environments.py).
        MAX_ENVIRONMENTS_VAR: str(lambda_max_environments(host)),
        # Step Functions Retry intervals, scaled when asked (localstack_plugins/sfn_retry_scale.py).
        RETRY_SCALE_VAR: f"{retry_scale(host):g}",
        "PROVIDER_OVERRIDE_DYNAMODB": "moto",
        "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": "moto",
        "PYTHONUNBUFFERED": "1",
        # Nothing beyond loopback: botocore in the engine (moto builds boto3 clients) must find
        # credentials at once and never ask the instance metadata service (169.254.169.254).
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def engine_processes(engine_id: str, root: str | None) -> list[int]:
    """Pids of every process that belongs to an engine: LocalStack and its children carry
    its id in their environment; Lambda workers (clean environment) run code under its root.
    Pass root=None when the directory is not known to be the engine's: id only."""
    marker = f"{ENGINE_ID_VAR}={engine_id}".encode()
    root_marker = (root.rstrip("/") + "/").encode() if root else None
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        environ = procfs.environment(int(entry))
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if (environ is not None and marker in environ) or (root_marker is not None and root_marker in cmdline):
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
        port: int | None = None,
        mode: EngineMode | None = None,
        iam_enforce: bool | None = None,
        extra_env: Mapping[str, str] | None = None,
        scope: str | None = None,
        settings_given: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings or Settings(target="embedded"))
        # Whose `testbed up` this engine is (state.scope_marker): found by it when its record is lost.
        self.scope = scope
        # `stock`: no fidelity patch, answers as a stock LocalStack container (docs/targets.md).
        self.mode: EngineMode = mode or engine_mode()
        # LocalStack settings for this engine only, e.g. {"SFN_MOCK_CONFIG": "/path/MockConfigFile.json"}.
        self.extra_env = dict(extra_env or {})
        # Checked LocalStack settings from the command line (`testbed up --setting`), over the project's.
        self.settings_given = dict(settings_given or {})
        # Roles' requests checked against their policies (TESTBED_IAM_ENFORCE, on unless 0).
        self.iam_enforce = iam_enforcement_on() if iam_enforce is None else iam_enforce
        self.detach = detach
        self.record = record
        self.port = port
        self._process: subprocess.Popen[bytes] | None = None
        self._log_checked = 0

    @property
    def endpoint_url(self) -> str | None:
        return self.record.endpoint_url if self.record else None

    @property
    def log_path(self) -> Path:
        if not self.record:
            raise EngineError("engine not started")
        return self.record.log_path

    def start(self, on_spawn: Callable[[], None] | None = None) -> Self:
        """Start the engine and wait until it answers. `on_spawn` runs as soon as its process
        exists (`testbed up` writes its record there); whatever stops the start, an error, a
        failing `on_spawn`, Ctrl-C, stops the engine before it propagates."""
        if self.record is not None:
            return self
        settings = self.localstack_settings()  # a refused setting stops the start before anything runs
        venv = engine_venv()  # LocalStack's own environment, built on the first start
        engine_id = uuid.uuid4().hex[:12]
        root = Path(tempfile.mkdtemp(prefix=f"testbed-{engine_id}-", dir=engines_dir()))
        port = self.port or free_port()
        self._prepare_dirs(root, venv)
        (root / ID_FILE).write_text(engine_id)
        env = localstack_environment(engine_id, port, root, mode=self.mode, iam_enforce=self.iam_enforce)
        env.update(settings)
        env.update(self.extra_env)
        env["TESTBED_PARENT_PID"] = str(os.getpid())
        # Functions' AWS SDKs and public layers are installed with uv into the user's cache (lambda_sdk.py).
        env[CACHE_VAR] = str(cache_root())
        env[UV_VAR] = uv_binary()
        if self.scope:
            env[SCOPE_VAR] = self.scope
        # The engine sees this package and its entry points, nothing else of this environment.
        env["PYTHONPATH"] = str(plugin_path(root / "python"))
        command = [sys.executable, "-m", "serverless_testbed.engine.supervisor", f"--exit-file={root / EXIT_FILE}"]
        if not self.detach:
            command += ["--die-with-parent", f"--cleanup-dir={root}"]
        command += ["--", str(venv.python), "-m", "serverless_testbed.engine.localstack_main"]
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
        started = procfs.start_time(self._process.pid) or 0
        self.record = EngineRecord(engine_id, self._process.pid, port, str(root), self.region, started)
        self._log_checked = 0
        try:
            if on_spawn is not None:
                on_spawn()
            # A short fixed interval: readiness is the number users wait on, worth 40 probes a second.
            failure = wait_for(
                self._start_outcome,
                timeout=READY_TIMEOUT,
                interval=0.025,
                max_interval=0.025,
                what=f"LocalStack health on port {port}",
            )
        except BaseException as err:
            log_tail = self._log_tail()
            self._abort()
            if not isinstance(err, WaitTimeout):
                raise  # Ctrl-C, SIGTERM, a record that could not be written: stopped, as it was
            raise EngineError(f"embedded engine did not start: {err}\n{log_tail}") from err
        if isinstance(failure, EngineError):
            log_tail = self._log_tail()
            self._abort()
            if isinstance(failure, PortInUse):
                raise failure
            raise EngineError(f"embedded engine did not start: {failure}\n{log_tail}") from failure
        return self

    def localstack_settings(self) -> dict[str, str]:
        """The LocalStack settings this engine gets: the project's `[tool.testbed.engine.settings]`,
        $SFN_MOCK_CONFIG, then `settings_given` (engine/localstack_settings.py); SettingRefused
        for one the engine does not take."""
        from serverless_testbed.engine.localstack_settings import engine_settings
        from serverless_testbed.project import ProjectNotFound, engine_settings_table, find_root

        try:
            root: Path | None = find_root()
        except ProjectNotFound:
            root = None
        table = engine_settings_table(root) if root is not None else {}
        return engine_settings(root, table, os.environ, self.settings_given)

    def _prepare_dirs(self, root: Path, venv: EngineVenv) -> None:
        for sub in ("home", "tmp", "cache", "config", "fs/var/lib/localstack"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        shared = shared_lib_dir()
        shared.mkdir(parents=True, exist_ok=True)
        (root / "fs/var/lib/localstack/lib").symlink_to(shared, target_is_directory=True)
        if catalog := shared_catalog(shared.parent / "static", venv.python, venv.botocore_version):
            link_catalog(root / "fs", catalog)

    def _start_outcome(self) -> bool | EngineError:
        """True once ready, an error once it cannot become ready, False meanwhile.

        Errors are returned, not raised: the wait treats raised exceptions as "not yet".
        """
        assert self.record is not None
        port = self.record.port
        if self._process is not None and self._process.poll() is not None:
            return EngineError(f"LocalStack's supervisor exited with code {self._process.returncode}")
        if self._log_says_port_taken():
            return PortInUse(port)
        if not self.is_healthy():
            return False
        # Something answers: it must be our LocalStack, not whoever held the port first.
        _, ours = procfs.port_listeners_among(port, [self.record.pid, *procfs.descendants(self.record.pid)])
        return True if ours else PortInUse(port, " (another server answers on it)")

    def _abort(self) -> None:
        """Stop an engine that failed to start: no graceful LocalStack shutdown to wait for."""
        if self.record is not None and self._process is not None:
            # Killing LocalStack (the supervisor's child) makes the supervisor clear the rest.
            for pid in procfs.children(self.record.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.stop()

    def _log_says_port_taken(self) -> bool:
        """Whether LocalStack logged, since the last look, that it could not bind its port."""
        try:
            with open(self.log_path, "rb") as log:
                # Re-read a little before the last end, in case a marker was half written then.
                log.seek(max(0, self._log_checked - 64))
                text = log.read().decode(errors="replace")
                self._log_checked = log.tell()
        except OSError:
            return False
        return any(marker in text for marker in PORT_TAKEN_MARKERS)

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
        """Stop the engine and remove its directory; for a recorded (detached) engine, only
        what /proc and the directory confirm to be that engine's is signalled or deleted."""
        record = self.record
        if record is None:
            return
        own_child = self._process is not None
        # Decided before signalling: a directory not confirmed as the engine's is neither
        # matched nor removed.
        root = record.root if own_child or record.root_is_ours() else None
        if own_child or record.supervisor_is_ours():
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGTERM)
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=STOP_TIMEOUT)
        # The supervisor stops LocalStack and its group; a detached engine's supervisor is
        # not our child, and Lambda workers leave through their lifeline: wait for all.
        try:
            wait_for(
                lambda: not engine_processes(record.engine_id, root),
                timeout=STOP_TIMEOUT,
                what=f"the processes of engine {record.engine_id} to exit",
            )
        except WaitTimeout:
            for pid in engine_processes(record.engine_id, root):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        if root is not None:
            shutil.rmtree(root, ignore_errors=True)
        self.record = None
        self._process = None
