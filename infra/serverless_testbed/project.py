"""Where the project's ASL files (`asl/`) and function folders (`src/`) are, and which
Python packages hold its workflows.

The root is, first to answer: an explicit setting (`use_root`, the pytest plugin's
`testbed_project_root` fixture, or an argument), `$TESTBED_PROJECT_ROOT`, the nearest
directory upward from the working directory that holds `asl/` and `src/` (or a
pyproject.toml with a `[tool.testbed]` table), and last the checkout this package was
installed from (an editable install). A wheel installed into site-packages carries no
`asl/` or `src/`, so it finds them by the first three.

A project names its workflow packages in its pyproject.toml (`ProjectConfig`):

    [tool.testbed]
    workflows = "infra.workflows"   # every module of this package with a WORKFLOW is one workflow
    runs = "infra.runs"             # where `testbed new workflow` writes a workflow's runner
    fixtures = "fixtures"           # ... and its data generator

Only the standard library is used: the compose init hook deploys with the image's Python.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from serverless_testbed.errors import BadInput

ROOT_VAR = "TESTBED_PROJECT_ROOT"
MARKERS = ("asl", "src")

# Set by `use_root` for the length of a test session or a command.
_explicit: Path | None = None


class ProjectNotFound(BadInput):
    """No directory holding asl/ and src/ was named or found."""


def is_project(path: Path) -> bool:
    """True when `path` holds both asl/ and src/, or declares its workflows in pyproject.toml."""
    return all((path / marker).is_dir() for marker in MARKERS) or _declares_testbed(path)


def _declares_testbed(path: Path) -> bool:
    try:
        return "testbed" in _tool_tables(path / PYPROJECT)
    except BadInput:
        return True  # a broken [tool.testbed] still marks the project: using it reports the fault


def find_root(explicit: str | Path | None = None, cwd: Path | None = None) -> Path:
    """The project root, by the order in the module docstring; ProjectNotFound says where it looked."""
    named = explicit or _explicit or os.environ.get(ROOT_VAR)
    if named:
        root = Path(named).expanduser().resolve()
        if not is_project(root):
            source = "$" + ROOT_VAR if not (explicit or _explicit) else "the project root setting"
            raise ProjectNotFound(f"{source} names {root}, which holds neither asl/ and src/ nor [tool.testbed]")
        return root
    start = (cwd or Path.cwd()).resolve()
    for candidate in (start, *start.parents):
        if is_project(candidate):
            return candidate
    checkout = Path(__file__).resolve().parents[2]
    if is_project(checkout):
        return checkout
    raise ProjectNotFound(
        f"no project root: no directory from {start} upward holds asl/ and src/, and this package "
        f"({checkout}) is not a checkout; set ${ROOT_VAR}, run from your project's directory, or start a project "
        "here with `testbed new workflow NAME`"
    )


def src_dir() -> Path:
    """The folder of function sources: one folder per function."""
    return find_root() / "src"


def asl_dir() -> Path:
    """The folder of state machine definitions."""
    return find_root() / "asl"


@contextmanager
def use_root(root: str | Path | None) -> Iterator[Path]:
    """Take `root` as the project root until the block ends (None: resolve as usual)."""
    global _explicit
    previous = _explicit
    chosen = find_root(root)
    _explicit = chosen
    try:
        yield chosen
    finally:
        _explicit = previous


PYPROJECT = "pyproject.toml"
# [tool.testbed.engine.settings]: LocalStack settings for the project's engines (engine/localstack_settings.py).
ENGINE_KEY = "engine"
PACKAGE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


class ProjectConfigError(BadInput):
    """The project's `[tool.testbed]` table cannot be used as it is."""


@dataclass(frozen=True)
class ProjectConfig:
    """The `[tool.testbed]` table of a project's pyproject.toml: dotted package names,
    imported with the project root first on sys.path."""

    workflows: str
    runs: str
    fixtures: str

    KEYS: ClassVar[tuple[str, ...]] = ("workflows", "runs", "fixtures")

    @classmethod
    def default_for_new_project(cls) -> ProjectConfig:
        """What `testbed new workflow` declares in a project that has no `[tool.testbed]` yet:
        one package of its own, so neither a project's `infra/` nor PyPI's `fixtures` is touched."""
        return cls(workflows="pipelines.workflows", runs="pipelines.runs", fixtures="pipelines.fixtures")

    def folder(self, root: Path, key: str) -> Path:
        """The folder of package `key` ("workflows", "runs" or "fixtures") under `root`."""
        return root.joinpath(*str(getattr(self, key)).split("."))

    def toml(self) -> str:
        """The table as pyproject.toml holds it."""
        lines = ["[tool.testbed]", "# Packages of this project, imported with the project folder first on sys.path:"]
        lines += [f'{key} = "{getattr(self, key)}"' for key in self.KEYS]
        return "\n".join(lines) + "\n"


def _tool_tables(pyproject: Path) -> dict[str, object]:
    try:
        text = pyproject.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as err:
        raise ProjectConfigError(f"{pyproject}: cannot be read ({err})") from err
    try:
        tool = tomllib.loads(text).get("tool", {})
    except tomllib.TOMLDecodeError as err:
        raise ProjectConfigError(f"{pyproject}: not valid TOML ({err})") from err
    return tool if isinstance(tool, dict) else {}


def project_config(root: Path | None = None) -> ProjectConfig | None:
    """The `[tool.testbed]` table of the project at `root` (default: `find_root()`); None when
    the project declares none. ProjectConfigError names the file, the key and what is wrong."""
    root = root or find_root()
    pyproject = root / PYPROJECT
    table = _tool_tables(pyproject).get("testbed")
    if table is None:
        return None
    where = f"{pyproject} [tool.testbed]"
    if not isinstance(table, dict):
        raise ProjectConfigError(f"{where}: must be a table")
    unknown = sorted(set(table) - set(ProjectConfig.KEYS) - {ENGINE_KEY})
    if not set(table) & set(ProjectConfig.KEYS) and not unknown:
        return None  # engine settings only ([tool.testbed.engine]): no workflows declared
    if unknown:
        raise ProjectConfigError(
            f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join((*ProjectConfig.KEYS, ENGINE_KEY))}"
        )
    values: dict[str, str] = {}
    for key in ProjectConfig.KEYS:
        value = table.get(key)
        if not isinstance(value, str) or not PACKAGE_NAME.fullmatch(value):
            raise ProjectConfigError(f'{where}: {key} must be a dotted Python package name, e.g. "pipelines.{key}"')
        values[key] = value
    return ProjectConfig(**values)


def engine_settings_table(root: Path) -> dict[str, object]:
    """The project's `[tool.testbed.engine.settings]` table ({} when it has none); unchecked."""
    pyproject = root / PYPROJECT
    table = _tool_tables(pyproject).get("testbed")
    engine = table.get(ENGINE_KEY) if isinstance(table, dict) else None
    if engine is None:
        return {}
    settings = engine.get("settings", {}) if isinstance(engine, dict) else None
    unknown = sorted(set(engine) - {"settings"}) if isinstance(engine, dict) else []
    if not isinstance(settings, dict) or unknown:
        raise ProjectConfigError(f"{pyproject} [tool.testbed.engine]: holds one table, settings (NAME = value)")
    return settings
