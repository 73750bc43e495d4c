"""Safety checks that keep emulator runs away from real AWS and real runs off emulators.

The endpoint a boto3 client talks to is not only AWS_ENDPOINT_URL: botocore also reads
AWS_ENDPOINT_URL_<SERVICE>, the active profile's `endpoint_url` and its `services`
section of the shared config file, unless `ignore_configured_endpoint_urls` (variable
AWS_IGNORE_CONFIGURED_ENDPOINT_URLS or the profile's setting) turns all of them off.
`configured_endpoints` finds every one of those places; the aws target refuses any that
is not an AWS endpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError
from serverless_testbed.errors import TargetRefused

DUMMY_KEYS = {"test", "testing", "dummy", "foo", "fake", "localstack", "testcontainers-localstack"}
ENDPOINT_VARIABLES_PREFIX = "AWS_ENDPOINT_URL"
IGNORE_VARIABLE = "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"
# The DNS domains of AWS's own endpoints (aws, aws-cn, aws-us-gov partitions; dual-stack api.aws).
AWS_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws")


@dataclass(frozen=True)
class ConfiguredEndpoint:
    """An endpoint URL botocore would use instead of AWS's own, and where it is set."""

    url: str
    source: str
    service: str | None = None  # None: every service
    variable: str | None = None  # the environment variable that sets it, if one does


def is_aws_endpoint(url: str) -> bool:
    """True for an https URL on one of AWS's own domains (what a real region answers at)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    return parts.scheme == "https" and any(host == d or host.endswith("." + d) for d in AWS_DOMAINS)


def configured_endpoints(session: Any, environ: Mapping[str, str]) -> list[ConfiguredEndpoint]:
    """Every endpoint URL the environment and the active profile configure, for any service.

    `session` is a boto3 or botocore session (its config file and profile are read as
    botocore reads them); `environ` holds the variables. Empty when ignored."""
    core = getattr(session, "_session", session)  # boto3.Session wraps a botocore session
    scoped = _scoped_config(core)
    if _ignored(environ, scoped):
        return []
    found = [
        ConfiguredEndpoint(value, f"environment variable {name}", _service_of(name), variable=name)
        for name, value in sorted(environ.items())
        if name.startswith(ENDPOINT_VARIABLES_PREFIX) and value
    ]
    profile = _profile_label(core)
    if scoped.get("endpoint_url"):
        found.append(ConfiguredEndpoint(scoped["endpoint_url"], f"endpoint_url of {profile}"))
    if "services" in scoped:
        section = scoped["services"]
        services = core.full_config.get("services", {}).get(section)
        if not services:
            raise TargetRefused(
                f"{profile} names the services section {section!r}, which the config file lacks; "
                "botocore refuses to make clients with it. Add [services "
                f"{section}] or remove `services = {section}` from the profile."
            )
        for service, settings in sorted(services.items()):
            if isinstance(settings, Mapping) and settings.get("endpoint_url"):
                where = f"{service} endpoint_url of [services {section}] ({profile})"
                found.append(ConfiguredEndpoint(settings["endpoint_url"], where, service))
    return found


def refuse_non_aws_endpoints(session: Any, environ: Mapping[str, str]) -> None:
    """TargetRefused naming every configured endpoint that is not AWS's own."""
    foreign = [endpoint for endpoint in configured_endpoints(session, environ) if not is_aws_endpoint(endpoint.url)]
    if not foreign:
        return
    variables = [endpoint.variable for endpoint in foreign if endpoint.variable]
    others = [endpoint for endpoint in foreign if not endpoint.variable]
    if variables:
        unset = " ".join(variables)
        raise TargetRefused(
            f"--target aws refuses to run while {', '.join(variables)} is set: it would send "
            f"the calls to an emulator. Unset it (unset {unset}) or pick an emulator target."
        )
    shown = "; ".join(f"{endpoint.url} ({endpoint.source})" for endpoint in others)
    raise TargetRefused(
        f"--target aws refuses a configured endpoint that is not AWS: {shown}. The calls would go "
        f"there, not to AWS: use a profile without it (AWS_PROFILE=...), or set {IGNORE_VARIABLE}=true, "
        "or pick an emulator target."
    )


def check_aws_target(session: Any, environ: Mapping[str, str], expected_account: str | None) -> str:
    """Refuse to act on real AWS unless everything says it is meant; return the account id."""
    refuse_non_aws_endpoints(session, environ)
    credentials = session.get_credentials()
    if credentials is None:
        raise TargetRefused("--target aws found no AWS credentials; configure a profile (aws configure) first.")
    key = credentials.get_frozen_credentials().access_key
    if key.lower() in DUMMY_KEYS or key.startswith("AKIA000000"):
        raise TargetRefused(
            f"--target aws refuses the emulator's dummy credentials (access key {key!r}); "
            "use a real profile (AWS_PROFILE=...)."
        )
    try:
        sts = session.client("sts")
    except BotoCoreError as err:
        raise TargetRefused(f"--target aws could not make an STS client ({err}); check the AWS config file.") from err
    # The client's own endpoint, as botocore resolved it: the last word on where calls go.
    endpoint = sts.meta.endpoint_url
    if not is_aws_endpoint(endpoint):
        raise TargetRefused(f"--target aws refuses: STS calls would go to {endpoint}, which is not an AWS endpoint.")
    try:
        account = str(sts.get_caller_identity()["Account"])
    except (BotoCoreError, ClientError) as err:
        raise TargetRefused(
            f"--target aws could not confirm the account with STS GetCallerIdentity ({err}); "
            "check the network and that the credentials are valid (aws sts get-caller-identity)."
        ) from err
    if expected_account is None:
        raise TargetRefused(
            f"--target aws needs --account-id to confirm the account; these credentials are for "
            f"{account}. Rerun with --account-id {account} if that is the one you mean."
        )
    if account != expected_account:
        raise TargetRefused(
            f"--target aws: the credentials belong to account {account}, not {expected_account} "
            "as asked; switch profile or fix --account-id."
        )
    return account


def emulator_endpoint(endpoint_url: str | None, services: Iterable[str] = ()) -> str:
    """The endpoint of an emulator target: refused when none is set or it is AWS itself."""
    if not endpoint_url:
        raise TargetRefused(
            "no emulator endpoint is set (AWS_ENDPOINT_URL), so the calls would go to real AWS. "
            "Point it at an emulator (AWS_ENDPOINT_URL=http://localhost:4566), or, to deploy to AWS, "
            "pass --target aws --account-id <your account id>."
        )
    if is_aws_endpoint(endpoint_url):
        raise TargetRefused(
            f"AWS_ENDPOINT_URL={endpoint_url} is an AWS endpoint, not an emulator; to deploy to AWS "
            "pass --target aws --account-id <your account id> (and unset AWS_ENDPOINT_URL)."
        )
    return endpoint_url


def _scoped_config(core: Any) -> dict[str, Any]:
    from botocore.exceptions import ProfileNotFound

    try:
        scoped: dict[str, Any] = core.get_scoped_config()
    except ProfileNotFound as err:
        raise TargetRefused(f"{err}; set AWS_PROFILE to a profile of the AWS config file.") from err
    except BotoCoreError as err:  # a config file that cannot be parsed
        raise TargetRefused(f"the AWS config file cannot be read: {err}") from err
    return scoped


def _ignored(environ: Mapping[str, str], scoped: Mapping[str, Any]) -> bool:
    # botocore: the variable wins over the profile; only "true" (any case) turns it on.
    value = environ.get(IGNORE_VARIABLE)
    if value is None:
        value = scoped.get("ignore_configured_endpoint_urls")
    return str(value).lower() == "true"


def _service_of(variable: str) -> str | None:
    suffix = variable[len(ENDPOINT_VARIABLES_PREFIX) :]
    return suffix.lstrip("_").lower() or None


def _profile_label(core: Any) -> str:
    name = core.get_config_variable("profile") or "default"
    return f"profile {name!r} in {core.get_config_variable('config_file')}"
