"""LocalStack settings a project may give its embedded engine: an allow-list, each value checked.

The embedded engine keeps the host's AWS_* and LocalStack variables out of LocalStack (a
developer's shell must not change what the tests see). Settings are passed explicitly instead:
`testbed up --setting NAME=VALUE` (repeatable), and the project's pyproject.toml

    [tool.testbed.engine.settings]
    SFN_MOCK_CONFIG = "tests/MockConfigFile.json"   # a path relative to the project
    KINESIS_LATENCY = "0"

which every engine the project starts (`testbed up`, a pytest session's own engine) gets; a
command-line setting wins over the project's. `SFN_MOCK_CONFIG` in the environment of
`testbed up` is still taken, as before. Names are LocalStack 4.14.0's documented configuration
(https://docs.localstack.cloud/references/configuration/). A name the engine manages itself
(where it listens, its folders, its executors) is refused with the reason, and any other name
not on the list is refused naming the list. Only the standard library is used here.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from serverless_testbed.errors import BadInput

SETTINGS_TABLE = "[tool.testbed.engine.settings]"


class SettingRefused(BadInput):
    """A LocalStack setting the engine does not take: its name or its value."""


def _boolean(value: str) -> str:
    if value.strip().lower() in ("1", "true", "0", "false"):
        return value.strip().lower()
    raise ValueError("must be 1 or 0 (true or false)")


def _seconds(value: str) -> str:
    number = float(value)
    if not number >= 0 or number == float("inf"):
        raise ValueError("must be a number of seconds, 0 or more")
    return value.strip()


def _count(value: str) -> str:
    if not value.strip().isdigit():
        raise ValueError("must be a whole number, 0 or more")
    return value.strip()


def _choice(*choices: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if value.strip().lower() not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value.strip().lower()

    return check


def _json_file(value: str) -> str:
    file = Path(value).expanduser()
    if not file.is_absolute():
        raise ValueError("must be an absolute path (a project's relative path is made absolute from its folder)")
    try:
        json.loads(file.read_text(encoding="utf-8"))
    except OSError as err:
        raise ValueError(f"cannot be read ({err.strerror or err})") from None
    except ValueError as err:
        raise ValueError(f"is not JSON ({err})") from None
    return str(file)


@dataclass(frozen=True)
class Allowed:
    check: Callable[[str], str]
    what: str
    path: bool = False  # a file path: relative to the project folder when given in pyproject.toml


ALLOWED: dict[str, Allowed] = {
    "SFN_MOCK_CONFIG": Allowed(_json_file, "Step Functions Local mock configuration file (JSON)", path=True),
    "DEBUG": Allowed(_boolean, "LocalStack's debug logging"),
    "LS_LOG": Allowed(_choice("trace", "trace-internal", "debug", "info", "warn", "error"), "LocalStack's log level"),
    "LAMBDA_EVENT_SOURCE_MAPPING_POLL_INTERVAL_SEC": Allowed(
        _seconds, "LocalStack's pause after a poll that found records (setting it keeps LocalStack's pacing)"
    ),
    "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_EMPTY_POLL_SEC": Allowed(
        _seconds, "LocalStack's longest back-off after empty polls (setting it keeps LocalStack's pacing)"
    ),
    "LAMBDA_EVENT_SOURCE_MAPPING_MAX_BACKOFF_ON_ERROR_SEC": Allowed(_seconds, "longest back-off after poll errors"),
    "LAMBDA_TRUNCATE_STDOUT": Allowed(_count, "characters of a function's output kept in the engine log"),
    "KINESIS_LATENCY": Allowed(_count, "kinesis-mock's delay of stream changes (CreateStream...), in ms"),
    "KINESIS_SHARD_LIMIT": Allowed(_count, "shards per account"),
    "KINESIS_ON_DEMAND_STREAM_COUNT_LIMIT": Allowed(_count, "on-demand streams per account"),
    "SQS_DELAY_PURGE_RETRY": Allowed(_boolean, "AWS's 60 s between two PurgeQueue calls"),
    "SQS_DELAY_RECENTLY_DELETED": Allowed(_boolean, "AWS's 60 s before a deleted queue's name is free"),
    "SQS_ENABLE_MESSAGE_RETENTION_PERIOD": Allowed(_boolean, "messages expire after the queue's retention period"),
    "SQS_DISABLE_CLOUDWATCH_METRICS": Allowed(_boolean, "no SQS metrics in CloudWatch"),
    "CFN_VERBOSE_ERRORS": Allowed(_boolean, "CloudFormation errors with their traceback in the engine log"),
    "CFN_PER_RESOURCE_TIMEOUT": Allowed(_count, "seconds CloudFormation waits for one resource"),
}

_LISTENING = "the engine listens on 127.0.0.1 only, on the port `testbed up --port` chooses"
_MANAGED = "the engine sets it itself"
REFUSED: dict[str, str] = {
    "GATEWAY_LISTEN": _LISTENING,
    "LOCALSTACK_HOST": _LISTENING,
    "EDGE_PORT": _LISTENING,
    "EDGE_BIND_HOST": _LISTENING,
    "EXTERNAL_SERVICE_PORTS_START": _LISTENING,
    "USE_SSL": "the engine serves plain HTTP on loopback; URLs it renders say http",
    "DNS_ADDRESS": "the engine runs no DNS server and makes no DNS queries",
    "DNS_SERVER": "the engine runs no DNS server and makes no DNS queries",
    "SQS_ENDPOINT_STRATEGY": f"{_MANAGED} (path: queue URLs whose host resolves)",
    "LAMBDA_RUNTIME_EXECUTOR": f"{_MANAGED} (local-process: functions without Docker)",
    "LAMBDA_KEEPALIVE_MS": f"{_MANAGED}; set TESTBED_LAMBDA_IDLE_SECONDS",
    "PROVIDER_OVERRIDE_DYNAMODB": f"{_MANAGED} (moto: DynamoDB without a download)",
    "PROVIDER_OVERRIDE_DYNAMODBSTREAMS": f"{_MANAGED} (moto: DynamoDB without a download)",
    "IN_MEMORY_CLIENT": _MANAGED,
    "OVERRIDE_IN_DOCKER": _MANAGED,
    "FILESYSTEM_ROOT": f"{_MANAGED}: each engine has a folder of its own",
    "TMPDIR": f"{_MANAGED}: each engine has a folder of its own",
    "CONFIG_DIR": f"{_MANAGED}: each engine has a folder of its own",
    "XDG_CACHE_HOME": f"{_MANAGED}: each engine has a folder of its own",
    "PERSISTENCE": "an engine's state lives as long as the engine; `testbed reset` empties it",
}


def check_setting(name: str, value: str, *, where: str, base: Path | None = None) -> str:
    """The value to give LocalStack for `name`; SettingRefused (one line, naming `where` it came
    from) for a name that is refused or not on the list, or a value that does not fit."""
    if name in REFUSED:
        raise SettingRefused(f"{where}: {name} is not accepted: {REFUSED[name]}")
    allowed = ALLOWED.get(name)
    if allowed is None:
        raise SettingRefused(f"{where}: {name} is not a setting the engine takes; it takes {', '.join(ALLOWED)}")
    if allowed.path and base is not None and not os.path.isabs(os.path.expanduser(value)):
        value = str(base / value)
    try:
        return allowed.check(value)
    except ValueError as err:
        raise SettingRefused(f"{where}: {name}={value!r} {err}") from None


def parse_assignments(items: Iterable[str], *, where: str = "--setting") -> dict[str, str]:
    """`NAME=VALUE` strings (the command line's), each checked."""
    settings: dict[str, str] = {}
    for item in items:
        name, equals, value = item.partition("=")
        if not equals or not name.strip():
            raise SettingRefused(f"{where} {item!r}: write NAME=VALUE, e.g. {where} SFN_MOCK_CONFIG=/path/mock.json")
        name = name.strip()
        settings[name] = check_setting(name, value, where=f"{where} {name}", base=Path.cwd())
    return settings


def project_settings(root: Path, table: Mapping[str, object]) -> dict[str, str]:
    """The project's `[tool.testbed.engine.settings]` table, each value checked (paths from `root`)."""
    where = f"{root / 'pyproject.toml'} {SETTINGS_TABLE}"
    settings: dict[str, str] = {}
    for name, value in table.items():
        if isinstance(value, bool):
            value = "1" if value else "0"
        if not isinstance(value, str | int | float):
            raise SettingRefused(f"{where}: {name} must be a string or a number")
        settings[name] = check_setting(name, str(value), where=where, base=root)
    return settings


def engine_settings(
    root: Path | None, table: Mapping[str, object], host: Mapping[str, str], given: Mapping[str, str]
) -> dict[str, str]:
    """What an engine gets: the project's table, then SFN_MOCK_CONFIG from the host's environment
    (as `SFN_MOCK_CONFIG=... testbed up` always worked), then the command line's."""
    settings = project_settings(root, table) if root is not None else {}
    if mock := (host.get("SFN_MOCK_CONFIG") or "").strip():
        settings["SFN_MOCK_CONFIG"] = check_setting("SFN_MOCK_CONFIG", mock, where="$SFN_MOCK_CONFIG", base=Path.cwd())
    return {**settings, **given}
