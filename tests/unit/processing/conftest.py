"""Workflow 3's code loaded by path: Lambda folders and the FastAPI app are not packages."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SRC = Path(__file__).resolve().parents[3] / "src"


def load(folder: str, module: str) -> ModuleType:
    """`src/<folder>/<module>.py` imported as the Lambda runtime would (its folder first on
    sys.path), without leaving its sibling modules (`rules`...) in sys.modules."""
    path = SRC / folder
    siblings = [file.stem for file in path.glob("*.py")]
    saved = {name: sys.modules.pop(name) for name in siblings if name in sys.modules}
    sys.path.insert(0, str(path))
    try:
        spec = importlib.util.spec_from_file_location(f"{folder}_{module}", path / f"{module}.py")
        assert spec is not None
        assert spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    finally:
        sys.path.remove(str(path))
        for name in siblings:
            sys.modules.pop(name, None)
        sys.modules.update(saved)
    return loaded


@pytest.fixture(scope="session")
def rules() -> ModuleType:
    return load("processing_process", "rules")


@pytest.fixture(scope="session")
def process_handler() -> ModuleType:
    return load("processing_process", "handler")


@pytest.fixture(scope="session")
def log_handler() -> ModuleType:
    return load("processing_log", "handler")


@pytest.fixture(scope="session")
def api_app() -> ModuleType:
    return load("api_app", "app")
