"""LocalStack settings for the embedded engine (engine/localstack_settings.py): an allow-list,
values checked, names the engine manages refused with the reason, each in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from serverless_testbed.engine.localstack_settings import (
    ALLOWED,
    SettingRefused,
    engine_settings,
    parse_assignments,
    project_settings,
)
from serverless_testbed.project import ProjectConfigError, engine_settings_table, project_config

pytestmark = pytest.mark.unit


@pytest.fixture
def mock_file(tmp_path: Path) -> Path:
    file = tmp_path / "MockConfigFile.json"
    file.write_text(json.dumps({"StateMachines": {}, "MockedResponses": {}}))
    return file


def test_allowed_settings_pass_checked(mock_file: Path) -> None:
    given = parse_assignments(
        [f"SFN_MOCK_CONFIG={mock_file}", "LS_LOG=DEBUG", "KINESIS_LATENCY=0", "SQS_DELAY_PURGE_RETRY=true"]
    )
    assert given == {
        "SFN_MOCK_CONFIG": str(mock_file),
        "LS_LOG": "debug",
        "KINESIS_LATENCY": "0",
        "SQS_DELAY_PURGE_RETRY": "true",
    }


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("GATEWAY_LISTEN=0.0.0.0:4566", "GATEWAY_LISTEN is not accepted: the engine listens on 127.0.0.1 only"),
        ("LOCALSTACK_HOST=0.0.0.0", "LOCALSTACK_HOST is not accepted: the engine listens on 127.0.0.1 only"),
        ("USE_SSL=1", "USE_SSL is not accepted: the engine serves plain HTTP"),
        ("LAMBDA_KEEPALIVE_MS=5", "set TESTBED_LAMBDA_IDLE_SECONDS"),
        ("SQS_ENDPOINT_STRATEGY=standard", "queue URLs whose host resolves"),
        ("NOT_A_SETTING=1", "NOT_A_SETTING is not a setting the engine takes; it takes SFN_MOCK_CONFIG, DEBUG"),
        ("KINESIS_LATENCY=-5", "KINESIS_LATENCY='-5' must be a whole number"),
        ("DEBUG=maybe", "DEBUG='maybe' must be 1 or 0"),
        ("SFN_MOCK_CONFIG=/nowhere/mock.json", "cannot be read"),
        ("LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC=x", "could not convert"),
        ("LS_LOG", "write NAME=VALUE"),
    ],
)
def test_refused_in_one_line_saying_why(item: str, says: str) -> None:
    with pytest.raises(SettingRefused) as refused:
        parse_assignments([item])
    assert says in str(refused.value)
    assert "\n" not in str(refused.value)


def test_every_allowed_name_says_what_it_is() -> None:
    assert all(allowed.what for allowed in ALLOWED.values())


def test_the_projects_table_with_paths_from_its_folder(tmp_path: Path, mock_file: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.testbed.engine.settings]\nSFN_MOCK_CONFIG = "MockConfigFile.json"\nKINESIS_LATENCY = 0\nDEBUG = true\n'
    )
    table = engine_settings_table(tmp_path)
    assert project_settings(tmp_path, table) == {
        "SFN_MOCK_CONFIG": str(mock_file),
        "KINESIS_LATENCY": "0",
        "DEBUG": "1",
    }
    # Engine settings alone declare no workflows: the project still works without [tool.testbed] packages.
    assert project_config(tmp_path) is None


def test_the_command_line_wins_over_the_project_and_the_environment(tmp_path: Path, mock_file: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text("{}")
    table = {"SFN_MOCK_CONFIG": "MockConfigFile.json", "KINESIS_LATENCY": "0"}
    assert engine_settings(tmp_path, table, {"SFN_MOCK_CONFIG": str(other)}, {}) == {
        "SFN_MOCK_CONFIG": str(other),
        "KINESIS_LATENCY": "0",
    }
    assert engine_settings(tmp_path, table, {}, {"KINESIS_LATENCY": "10"})["KINESIS_LATENCY"] == "10"


def test_a_refused_name_in_the_project_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.testbed.engine.settings]\nGATEWAY_LISTEN = "0.0.0.0:4566"\n')
    with pytest.raises(SettingRefused, match=r"pyproject.toml \[tool.testbed.engine.settings\]: GATEWAY_LISTEN"):
        project_settings(tmp_path, engine_settings_table(tmp_path))
    (tmp_path / "pyproject.toml").write_text("[tool.testbed.engine]\nport = 1\n")
    with pytest.raises(ProjectConfigError, match="holds one table, settings"):
        engine_settings_table(tmp_path)


def test_the_docs_list_every_setting_taken_and_refused() -> None:
    from serverless_testbed.engine.localstack_settings import REFUSED

    docs = (Path(__file__).resolve().parents[2] / "docs" / "cloudformation.md").read_text()
    missing = [name for name in (*ALLOWED, *REFUSED) if f"`{name}`" not in docs]
    assert missing == [], f"docs/cloudformation.md does not name {missing}"
