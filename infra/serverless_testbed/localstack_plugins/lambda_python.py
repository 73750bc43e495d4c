"""Which Python runs a function, and which packages it finds beside its own code.

AWS runs a `python3.12` function on Python 3.12 with the AWS SDK (boto3 and what it
needs) importable, and nothing else. The local-process executor looks for the declared
version the way `scripts/setup.sh` looks for the project's: on PATH, then among pyenv's
versions; when none is installed it runs the function on the engine's own Python and
warns once per runtime, naming the version used. The SDK is the runtime's own boto3,
installed for that interpreter (`lambda_sdk.py`), so a function cannot import LocalStack,
moto or anything else the engine happens to have.
"""

from __future__ import annotations

import logging
import os
import pwd
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path

LOG = logging.getLogger(__name__)

_found: dict[str, str] = {}
_lock = threading.Lock()


def runtime_version(runtime: str) -> tuple[int, int] | None:
    """(3, 12) for "python3.12"; None for anything that is not a python3.x runtime."""
    match = re.fullmatch(r"python(\d+)\.(\d+)", runtime)
    return (int(match[1]), int(match[2])) if match else None


def _pyenv_roots(environ: Mapping[str, str]) -> list[Path]:
    """Where pyenv may live: $PYENV_ROOT, the parent of a `shims` folder on PATH, ~/.pyenv
    (the account's home from the password database: the engine runs with a HOME of its own)."""
    roots = [Path(environ["PYENV_ROOT"])] if environ.get("PYENV_ROOT") else []
    roots += [Path(entry).parent for entry in environ.get("PATH", "").split(os.pathsep) if Path(entry).name == "shims"]
    roots.append(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".pyenv")
    return roots


def _real_interpreter(candidate: str, version: tuple[int, int]) -> str | None:
    """The interpreter behind `candidate` (a pyenv shim runs the real one) if it is `version`."""
    try:
        answer = subprocess.run(
            [
                candidate,
                "-I",
                "-S",
                "-c",
                "import sys; print(sys.version_info[0], sys.version_info[1], sys.executable)",
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    parts = answer.stdout.split(maxsplit=2)
    if answer.returncode != 0 or len(parts) != 3 or (int(parts[0]), int(parts[1])) != version:
        return None
    return parts[2].strip()


def find_interpreter(version: tuple[int, int], environ: Mapping[str, str] | None = None) -> str | None:
    """An installed Python `version`: on PATH, then pyenv's versions (newest patch first)."""
    env = os.environ if environ is None else environ
    name = f"python{version[0]}.{version[1]}"
    on_path = shutil.which(name, path=env.get("PATH", ""))
    candidates = [on_path] if on_path else []
    for root in _pyenv_roots(env):
        installed = sorted(
            (root / "versions").glob(f"{version[0]}.{version[1]}.*/bin/{name}"),
            key=lambda path: [int(part) if part.isdigit() else -1 for part in path.parts[-3].split(".")],
            reverse=True,
        )
        candidates += [str(path) for path in installed]
    for candidate in candidates:
        if found := _real_interpreter(candidate, version):
            return found
    return None


def interpreter_for(runtime: str, environ: Mapping[str, str] | None = None) -> str:
    """The Python that runs functions of `runtime`; the engine's own, with one warning per
    runtime, when the declared version is not installed."""
    with _lock:
        if runtime in _found:
            return _found[runtime]
        version = runtime_version(runtime)
        if version is None or version == sys.version_info[:2]:
            found = sys.executable
        elif located := find_interpreter(version, environ):
            found = located
        else:
            found = sys.executable
            LOG.warning(
                "no Python %d.%d found for runtime %s (looked on PATH and in pyenv's versions);"
                " running it on Python %d.%d (%s)",
                *version,
                runtime,
                *sys.version_info[:2],
                sys.executable,
            )
        _found[runtime] = found
        return found


def aws_site_packages(version: tuple[int, int]) -> str:
    """Where the AWS runtime of `version` keeps the SDK, as its stack traces show it."""
    if version >= (3, 12):
        return f"/var/lang/lib/python{version[0]}.{version[1]}/site-packages"
    return "/var/runtime"
