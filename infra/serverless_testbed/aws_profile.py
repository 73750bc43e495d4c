"""The active profile of the shared AWS files, read the way botocore reads them.

botocore picks the profile from AWS_DEFAULT_PROFILE, then AWS_PROFILE, then "default";
reads `[profile NAME]` (or `[default]`) of AWS_CONFIG_FILE (~/.aws/config) and lets the
same-named section of AWS_SHARED_CREDENTIALS_FILE (~/.aws/credentials) add to it and win.
Only the standard library is used: settings read the region from here, and the compose
init hook reads its settings with the LocalStack image's Python.
"""

from __future__ import annotations

import configparser
import os
import shlex
from collections.abc import Mapping

from serverless_testbed.errors import BadInput

DEFAULT_CONFIG_FILE = "~/.aws/config"
DEFAULT_CREDENTIALS_FILE = "~/.aws/credentials"


def profile_name(env: Mapping[str, str]) -> str | None:
    """The profile botocore uses (None: the default one, which need not exist)."""
    return env.get("AWS_DEFAULT_PROFILE") or env.get("AWS_PROFILE") or None


def profile_values(env: Mapping[str, str]) -> dict[str, str]:
    """The active profile's top-level settings (nested blocks such as `s3 =` left out)."""
    name = profile_name(env) or "default"
    values: dict[str, str] = {}
    config = _read(_path(env, "AWS_CONFIG_FILE", DEFAULT_CONFIG_FILE))
    for section in config.sections():
        if _config_profile(section) == name:
            values.update(_flat(config[section]))
    credentials = _read(_path(env, "AWS_SHARED_CREDENTIALS_FILE", DEFAULT_CREDENTIALS_FILE))
    if credentials.has_section(name):  # its sections are bare profile names; botocore lets them win
        values.update(_flat(credentials[name]))
    return values


def profile_region(env: Mapping[str, str]) -> str | None:
    """The `region` of the active profile, or None when it sets none."""
    return profile_values(env).get("region") or None


def _config_profile(section: str) -> str | None:
    # botocore: "default", or a section starting "profile" that splits into two words.
    if section == "default":
        return "default"
    if not section.startswith("profile"):
        return None
    try:
        parts = shlex.split(section)
    except ValueError:
        return None
    return parts[1] if len(parts) == 2 else None


def _flat(section: configparser.SectionProxy) -> dict[str, str]:
    return {key: value.strip() for key, value in section.items() if not value.startswith("\n")}


def _path(env: Mapping[str, str], variable: str, default: str) -> str | None:
    """The file botocore would read. `~` is the environment's HOME: with a given mapping
    that has none (a test's), the default file is not read."""
    path = env.get(variable) or default
    if path.startswith("~"):
        home = env.get("HOME")
        if not home:
            return None
        path = home + path[1:]
    return os.path.expandvars(path)


def _read(path: str | None) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    if path and os.path.isfile(path):
        try:
            parser.read(path)
        except (configparser.Error, UnicodeDecodeError) as err:
            raise BadInput(f"the AWS config file {path} cannot be read: {err}") from err
    return parser
