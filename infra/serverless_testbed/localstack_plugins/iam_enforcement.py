"""IAM enforcement in the embedded engine (an on_infra_start hook).

LocalStack's community edition checks no policy: a function or a state machine may call
anything, and a stack that works locally fails on AWS with AccessDenied. Here, every
request signed with the credentials of an assumed role is evaluated against that role's
policies as AWS would (moto's evaluator, `moto.iam.access_control.IAMPolicy`, over the
inline and attached policies of the role in LocalStack's moto IAM backend); a request no
statement allows, or one a statement denies, is answered with the service's AccessDenied
error in the service's protocol. Those credentials are what a function's environment holds
(LocalStack assumes the function's role for it) and what Step Functions' task clients and
EventBridge targets sign with (`connect_to.with_assumed_role`; with IN_MEMORY_CLIENT=1
they enter the same gateway chain). Requests signed with any other key (the test
credentials, LocalStack's internal clients) stay allowed, like an account's root user.

As on AWS, reading a missing object without `s3:ListBucket` on its bucket is AccessDenied,
not NoSuchKey (a response handler turns the one into the other).

Not modelled: resource-based policies granting a role access (the stack grants its roles
through their own policies only), session policies, permission boundaries, SCPs, and
conditions other than StringEquals (moto ignores them, so they allow).

Denials are logged and listed at `GET /_testbed/iam/denials` (`DELETE` clears them).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.iam_actions import Authorization, Where, authorizations
from serverless_testbed.localstack_plugins.iam_mode import iam_enforcement_on
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)
DENIALS_PATH = "/_testbed/iam/denials"
# The error AWS answers per service (code, HTTP status); others answer AccessDeniedException/400.
_ERRORS = {
    "s3": ("AccessDenied", 403),
    "sqs": ("AccessDenied", 403),
    "sts": ("AccessDenied", 403),
    "iam": ("AccessDenied", 403),
    "sns": ("AuthorizationError", 403),
    "lambda": ("AccessDeniedException", 403),
}
_MISSING_KEY_ATTRIBUTE = "testbed_iam_missing_key"
_S3_READS = ("GetObject", "HeadObject")


@dataclass(frozen=True)
class Session:
    """An assumed-role session: whose policies apply and how AWS names the caller."""

    account: str
    partition: str
    access_key_id: str
    session_token: str
    role_arn: str
    arn: str


@dataclass(frozen=True)
class Denial:
    """A request the engine refused, as listed at /_testbed/iam/denials."""

    role: str
    action: str
    resource: str
    service: str
    operation: str
    explicit: bool


class Denials:
    """The denials of this engine process, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: list[Denial] = []

    def add(self, denial: Denial) -> None:
        with self._lock:
            self._items.append(denial)

    def listing(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(item) for item in self._items]

    def clear(self) -> int:
        with self._lock:
            count = len(self._items)
            self._items.clear()
            return count


DENIALS = Denials()
_SESSIONS: dict[str, Session] = {}
_SESSIONS_LOCK = threading.Lock()


@hooks.on_infra_start()
@only_in_testbed_engine(fidelity=True)  # a stock LocalStack container enforces nothing
def enforce_iam() -> None:
    if not iam_enforcement_on():
        LOG.debug("IAM enforcement off (TESTBED_IAM_ENFORCE)")
        return
    from localstack.aws import handlers
    from localstack.services.edge import ROUTER

    # First among the custom handlers: AWS authorizes a request before anything answers it.
    handlers.serve_custom_service_request_handlers.handlers.insert(0, authorize_request)
    handlers.run_custom_response_handlers.append(deny_missing_keys)
    ROUTER.add(DENIALS_PATH, denials_endpoint, methods=["GET", "DELETE"])
    LOG.info("IAM enforcement on: requests signed by assumed roles are checked against their policies")


def authorize_request(chain: Any, context: Any, response: Any) -> None:
    """Gateway handler: refuse a role's request that its policies do not allow."""
    if context.service is None or context.operation is None:
        return
    session = session_of(context)
    if session is None:
        return
    prefix = context.service.signing_name or context.service.service_name
    operation = context.operation.name
    params = context.service_request or {}
    if prefix == "s3" and operation == "PostObject":  # the key is a form field ("${filename}" allowed)
        upload = context.request.files.get("file")
        key = _post_form(context).get("key", "").replace("${filename}", getattr(upload, "filename", "") or "")
        params = {**params, "Key": key}
    where = Where(region=context.region or "us-east-1", account=session.account, partition=session.partition)
    policies = _policies(session)
    for needed in authorizations(prefix, operation, params, where):
        verdict = _evaluate(policies, needed)
        if verdict != "allowed":
            _deny(context, session, needed, explicit=verdict == "denied")
    if prefix == "s3" and operation in _S3_READS and params.get("Bucket"):
        listing = Authorization("s3:ListBucket", f"arn:{session.partition}:s3:::{params['Bucket']}")
        if _evaluate(policies, listing) != "allowed":
            setattr(context, _MISSING_KEY_ATTRIBUTE, (session, listing))


def deny_missing_keys(chain: Any, context: Any, response: Any) -> None:
    """Response handler: NoSuchKey becomes AccessDenied for a role that may not list the bucket."""
    missing = getattr(context, _MISSING_KEY_ATTRIBUTE, None)
    error = getattr(context, "service_exception", None)
    if missing is None or error is None or getattr(error, "code", None) != "NoSuchKey":
        return
    session, listing = missing
    denial = _record(context, session, listing, explicit=False)
    from localstack.aws.protocol.serializer import create_serializer

    serializer = create_serializer(context.service)
    answer = serializer.serialize_error_to_response(
        _exception(context, session, denial), context.operation, context.request.headers, context.request_id
    )
    response.update_from(answer)


def session_of(context: Any) -> Session | None:
    """The assumed-role session that signed the request; None for any other credentials."""
    key = _access_key_id(context)
    if not key:
        return None
    with _SESSIONS_LOCK:
        if key in _SESSIONS:
            return _SESSIONS[key]
    from moto.sts.models import sts_backends

    for account in list(sts_backends.keys()):
        for partition in list(sts_backends[account].keys()):
            for assumed in list(sts_backends[account][partition].assumed_roles):
                if assumed.access_key_id == key:
                    role_name = assumed.role_arn.split("/")[-1]
                    session = Session(
                        account=assumed.account_id,
                        partition=partition,
                        access_key_id=key,
                        session_token=assumed.session_token,
                        role_arn=assumed.role_arn,
                        arn=f"arn:{partition}:sts::{assumed.account_id}:assumed-role/{role_name}/{assumed.session_name}",
                    )
                    with _SESSIONS_LOCK:
                        _SESSIONS[key] = session
                    return session
    return None


# What LocalStack writes into a request that came without an Authorization header (a presigned
# URL or POST, a plain URL) before any handler of ours sees it (localstack/aws/handlers/auth.py).
INJECTED_KEY = "injectedaccesskey"


def _access_key_id(context: Any) -> str | None:
    """The caller's access key, wherever the request carries its signature: the Authorization
    header, a presigned URL's query (SigV4 X-Amz-Credential, SigV2 AWSAccessKeyId), or the form
    fields of an S3 POST upload (a presigned POST: x-amz-credential, or AWSAccessKeyId)."""
    from localstack.utils.aws.request_context import extract_access_key_id_from_auth_header

    key = extract_access_key_id_from_auth_header(context.request.headers)
    if key and key != INJECTED_KEY:
        return str(key)
    fields = {name.lower(): str(value) for name, value in context.request.args.items()}
    fields.update(_post_form(context))
    credential = fields.get("x-amz-credential", "")
    return credential.split("/", 1)[0] or fields.get("awsaccesskeyid") or None


def _post_form(context: Any) -> dict[str, str]:
    """The form fields of an S3 POST upload, lower-cased names (werkzeug parses the form once and
    keeps it: S3's PostObject reads the same parsed form); nothing for any other request."""
    request = context.request
    service = getattr(context.service, "service_name", None)
    if service != "s3" or request.method != "POST" or not (request.mimetype or "").startswith("multipart/form-data"):
        return {}
    return {name.lower(): str(value) for name, value in request.form.items()}


def _policies(session: Session) -> list[Any]:
    """The role's policies (inline and attached) as moto's evaluator reads them."""
    from moto.iam.access_control import AssumedRoleAccessKey, CreateAccessKeyFailure, IAMPolicy

    try:
        key = AssumedRoleAccessKey(
            session.account,
            session.partition,
            session.access_key_id,
            {"X-Amz-Security-Token": session.session_token},
        )
        return [IAMPolicy(policy) for policy in key.collect_policies()]
    except CreateAccessKeyFailure:
        return []
    except Exception as err:  # noqa: BLE001 - a deleted role has no policies: deny, as AWS does
        LOG.debug("no policies for %s: %s", session.role_arn, err)
        return []


def _evaluate(policies: list[Any], needed: Authorization) -> str:
    """`allowed`, `denied` (an explicit Deny) or `implicit` (nothing allows it)."""
    from moto.iam.access_control import PermissionResult

    allowed = False
    for policy in policies:
        result = policy.is_action_permitted(needed.action, needed.resource)
        if result == PermissionResult.DENIED:
            return "denied"
        allowed = allowed or result == PermissionResult.PERMITTED
    return "allowed" if allowed else "implicit"


def _record(context: Any, session: Session, needed: Authorization, *, explicit: bool) -> Denial:
    denial = Denial(
        role=session.role_arn,
        action=needed.action,
        resource=needed.resource,
        service=context.service.service_name,
        operation=context.operation.name,
        explicit=explicit,
    )
    DENIALS.add(denial)
    LOG.warning(
        "IAM denied %s on %s to %s (%s.%s)",
        needed.action,
        needed.resource,
        session.arn,
        denial.service,
        denial.operation,
    )
    return denial


def _exception(context: Any, session: Session, denial: Denial) -> Any:
    from localstack.aws.api import CommonServiceException

    service = context.service.service_name
    code, status = _ERRORS.get(service, ("AccessDeniedException", 400))
    if service == "s3":
        message = "Access Denied"
    else:
        reason = (
            "with an explicit deny in an identity-based policy"
            if denial.explicit
            else (f"because no identity-based policy allows the {denial.action} action")
        )
        message = (
            f"User: {session.arn} is not authorized to perform: {denial.action} on resource: {denial.resource} {reason}"
        )
    return CommonServiceException(code, message, status_code=status, sender_fault=True)


def _deny(context: Any, session: Session, needed: Authorization, *, explicit: bool) -> None:
    raise _exception(context, session, _record(context, session, needed, explicit=explicit))


def denials_endpoint(request: Any) -> Any:
    """`/_testbed/iam/denials`: GET the denials so far, DELETE them."""
    if request.method == "DELETE":
        return {"cleared": DENIALS.clear()}
    return {"denials": DENIALS.listing()}
