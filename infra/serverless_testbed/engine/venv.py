"""The embedded engine's own Python environment, built once per machine and reused.

LocalStack 4.14.0 needs Python 3.13 (it imports `warnings.deprecated`) and upper pins on
packages a project may hold newer (cryptography, pyOpenSSL...). So the engine never runs
from the project's environment: the first start builds one for it with uv from PyPI
(`requirements.txt` beside this file), under the cache folder (`cache_root()`), keyed by
those requirements and the interpreter's version; every later start reuses it. A lock
makes concurrent starts (pytest-xdist workers, two terminals) build it once; a marker file
written last makes a half-built environment (Ctrl-C, a full disk) count as absent.

The engine finds this package through `plugin_path()`: a folder of the engine's own with a
link to this package and a dist-info that declares its LocalStack entry points, put on the
engine's PYTHONPATH. Nothing else of the project's environment is visible to it.

`main()` builds the environment ahead of time (`make setup` calls it).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata, resources
from pathlib import Path

from serverless_testbed.errors import EngineError, EngineUnavailable
from serverless_testbed.settings import LOCALSTACK_VERSION

ENGINE_PYTHON_VAR = "TESTBED_ENGINE_PYTHON"
CACHE_VAR = "TESTBED_CACHE_DIR"
UV_VAR = "TESTBED_UV"  # the uv executable, for a process without the uv wheel (the engine)
ENGINE_PYTHON = (3, 13)  # LocalStack 4.14.0 imports warnings.deprecated, new in 3.13
DISTRIBUTION = "serverless-testbed"
PACKAGE = "serverless_testbed"
MARKER = "testbed-engine.json"
BUILD_TIMEOUT_S = 900
_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3]); print(sys.executable)"


def cache_root(environ: Mapping[str, str] | None = None) -> Path:
    """$TESTBED_CACHE_DIR, else $XDG_CACHE_HOME/serverless-testbed, else ~/.cache/serverless-testbed."""
    env = os.environ if environ is None else environ
    if env.get(CACHE_VAR):
        return Path(env[CACHE_VAR]).expanduser()
    base = Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "serverless-testbed"


def requirements_text() -> str:
    """The engine's requirements, as shipped in this package."""
    return resources.files("serverless_testbed.engine").joinpath("requirements.txt").read_text(encoding="utf-8")


def requirements() -> list[str]:
    """The requirement lines, without comments."""
    return [line.strip() for line in requirements_text().splitlines() if line.strip() and not line.startswith("#")]


@dataclass(frozen=True)
class Interpreter:
    """A Python that can run the engine: its path and version."""

    path: Path
    version: str  # "3.13.0"


def _probe(candidate: str) -> Interpreter | None:
    try:
        answer = subprocess.run(
            [candidate, "-I", "-S", "-c", _PROBE], capture_output=True, text=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = answer.stdout.split()
    if answer.returncode != 0 or len(lines) != 2:
        return None
    version, executable = lines
    if tuple(int(part) for part in version.split(".")[:2]) < ENGINE_PYTHON:
        return None
    return Interpreter(Path(executable), version)


def _pyenv_candidates(environ: Mapping[str, str]) -> list[str]:
    root = Path(environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    found = sorted((root / "versions").glob("3.1[3-9]*/bin/python3"), reverse=True)
    return [str(path) for path in found]


def find_engine_python(environ: Mapping[str, str] | None = None) -> Interpreter:
    """A Python 3.13 or newer for the engine: $TESTBED_ENGINE_PYTHON, this interpreter,
    python3.13/python3.14 on PATH, then pyenv's versions. EngineUnavailable, in one line,
    says what to install when there is none."""
    env = os.environ if environ is None else environ
    named = env.get(ENGINE_PYTHON_VAR)
    if named:
        found = _probe(named)
        if found is None:
            raise EngineUnavailable(
                f"${ENGINE_PYTHON_VAR}={named} is not a Python {ENGINE_PYTHON[0]}.{ENGINE_PYTHON[1]} or newer "
                "that runs; point it at one or unset it"
            )
        return found
    candidates = [sys.executable] if sys.version_info[:2] >= ENGINE_PYTHON else []
    path = env.get("PATH", os.defpath)
    candidates += [hit for name in ("python3.13", "python3.14") if (hit := shutil.which(name, path=path))]
    candidates += _pyenv_candidates(env)
    for candidate in candidates:
        if found := _probe(candidate):
            return found
    raise EngineUnavailable(
        f"the embedded engine needs Python {ENGINE_PYTHON[0]}.{ENGINE_PYTHON[1]} (LocalStack {LOCALSTACK_VERSION} "
        "uses warnings.deprecated) and none was found on PATH or in pyenv: install python3.13 "
        f"(e.g. `pyenv install 3.13`) or set ${ENGINE_PYTHON_VAR} to one"
    )


@dataclass(frozen=True)
class EngineVenv:
    """A built engine environment."""

    path: Path
    botocore_version: str  # names LocalStack's service catalog (engine/service_catalog.py)

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def venv_key(interpreter: Interpreter) -> str:
    """What the environment depends on: the requirements, the interpreter's version, the machine."""
    digest = hashlib.sha256(f"{requirements_text()}\n{interpreter.version}\n{platform.machine()}".encode())
    return f"localstack-{LOCALSTACK_VERSION}-py{interpreter.version}-{digest.hexdigest()[:12]}"


def read_marker(path: Path, marker: str = MARKER) -> dict[str, str] | None:
    """What a finished build of `path` recorded (its marker file); None while it is absent or half-built."""
    try:
        recorded = json.loads((path / marker).read_text())
    except (OSError, ValueError):
        return None
    return {str(key): str(value) for key, value in recorded.items()} if isinstance(recorded, dict) else None


def built_once(path: Path, build: Callable[[Path], Mapping[str, str]], marker: str = MARKER) -> dict[str, str]:
    """What `build(path)` recorded, building `path` first when no finished build is there.

    A lock beside `path` makes concurrent callers (pytest-xdist workers, two terminals, two
    engines) build it once and the others use that work; the marker, written last, makes an
    interrupted build (Ctrl-C, a full disk) count as absent, and whatever it left is removed."""
    if (found := read_marker(path, marker)) is not None:
        return found
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be building it: wait, then use its work
        if (found := read_marker(path, marker)) is not None:
            return found
        shutil.rmtree(path, ignore_errors=True)  # what a stopped build left
        try:
            recorded = {key: str(value) for key, value in build(path).items()}
            path.mkdir(parents=True, exist_ok=True)
            partial = path / f".{marker}.partial"
            partial.write_text(json.dumps(recorded))
            partial.replace(path / marker)  # last: only a whole build has it
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
        return recorded


def run_logged(steps: list[list[str]], log_path: Path, environ: Mapping[str, str], what: str) -> None:
    """Run each command in turn, their output in `log_path`; EngineError naming `what`, the
    failed step and the log's last line when one fails."""
    # The user's uv and pip settings (index, proxy, certificates) apply; which venv is active does not.
    env = {name: value for name, value in environ.items() if name not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["UV_NO_PROGRESS"] = "1"
    with open(log_path, "w") as log:
        for step in steps:
            log.write(f"$ {' '.join(step)}\n")
            log.flush()
            done = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=BUILD_TIMEOUT_S)
            if done.returncode != 0:
                raise EngineError(
                    f"could not build {what} ({' '.join(step[1:3])} exited {done.returncode}: "
                    f"{_last_line(log_path)}); the whole log: {log_path}"
                )


def _say(line: str) -> None:
    print(f"testbed: {line}", file=sys.stderr, flush=True)


def engine_venv(environ: Mapping[str, str] | None = None, say: Callable[[str], None] = _say) -> EngineVenv:
    """The engine's environment, built first if this machine has none for these requirements.

    `say` receives a line before and after a build (nothing when the environment exists).
    EngineUnavailable names what is missing; EngineError the build's log."""
    env = os.environ if environ is None else environ
    interpreter = find_engine_python(env)
    path = cache_root(env) / "engines" / venv_key(interpreter)
    try:
        recorded = built_once(path, lambda folder: _build(folder, interpreter, env, say))
    except OSError as err:
        raise EngineError(f"cannot build the engine's environment in {path}: {err}") from err
    if "botocore" not in recorded or not (path / "bin" / "python").exists():
        shutil.rmtree(path, ignore_errors=True)  # a marker of another shape: build it anew
        return engine_venv(environ, say)
    return EngineVenv(path, recorded["botocore"])


def uv_binary(environ: Mapping[str, str] | None = None) -> str:
    """The uv executable: $TESTBED_UV (what the engine process is given), else the `uv` wheel's."""
    env = os.environ if environ is None else environ
    if env.get(UV_VAR):
        return env[UV_VAR]
    try:
        from uv import find_uv_bin
    except ImportError as err:
        raise EngineUnavailable(
            f"uv is not installed in this environment; `pip install {DISTRIBUTION}` brings it"
        ) from err
    return str(find_uv_bin())


def _build(
    path: Path, interpreter: Interpreter, environ: Mapping[str, str], say: Callable[[str], None]
) -> dict[str, str]:
    log_path = path.with_name(f"{path.name}.log")
    say(
        f"building the engine's environment once for this machine (LocalStack {LOCALSTACK_VERSION} on Python "
        f"{interpreter.version}, from PyPI with uv) in {path}; log: {log_path}"
    )
    started = time.monotonic()
    uv = uv_binary(environ)
    requirements_file = path.with_name(f"{path.name}.requirements.txt")
    requirements_file.write_text(requirements_text())
    steps = [
        [uv, "venv", "--quiet", "--python", str(interpreter.path), str(path)],
        [uv, "pip", "install", "--python", str(path / "bin" / "python"), "-r", str(requirements_file)],
    ]
    try:
        run_logged(steps, log_path, environ, "the engine's environment")
        botocore = subprocess.run(
            [str(path / "bin" / "python"), "-c", "import botocore; print(botocore.__version__)"],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    finally:
        requirements_file.unlink(missing_ok=True)
    say(f"the engine's environment is ready ({time.monotonic() - started:.0f} s); later starts reuse it")
    return {"botocore": botocore, "python": interpreter.version}


def _last_line(log_path: Path) -> str:
    try:
        lines = [line for line in log_path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip() if lines else "no output"


def plugin_path(folder: Path) -> Path:
    """Make `folder` a path entry that holds this package (a link) and a dist-info declaring
    its LocalStack entry points, and nothing else; the engine gets it as PYTHONPATH."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as err:
        raise EngineError(
            f"{DISTRIBUTION} is not installed here (pip install it, or `make setup` in a checkout)"
        ) from err
    groups: dict[str, list[str]] = {}
    for entry in dist.entry_points:
        if entry.group.startswith("localstack."):
            groups.setdefault(entry.group, []).append(f"{entry.name} = {entry.value}")
    if not groups:
        raise EngineError(f"the installed {DISTRIBUTION} declares no LocalStack plugins; reinstall it")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PACKAGE).symlink_to(Path(__file__).resolve().parents[1], target_is_directory=True)
    info = folder / f"serverless_testbed_engine-{dist.version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: serverless-testbed-engine\nVersion: {dist.version}\n")
    (info / "entry_points.txt").write_text(
        "".join(f"[{group}]\n" + "".join(f"{line}\n" for line in lines) + "\n" for group, lines in groups.items())
    )
    return folder


def main() -> int:
    """Build the engine's environment now (what `make setup` calls)."""
    try:
        venv = engine_venv()
    except EngineError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    print(f"engine environment: {venv.path}")
    return 0
