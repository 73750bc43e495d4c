"""Workflow 3's code loaded by path: Lambda folders and the FastAPI app are not packages."""

from __future__ import annotations

from types import ModuleType

import pytest
from serverless_testbed.lambda_code import load


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
