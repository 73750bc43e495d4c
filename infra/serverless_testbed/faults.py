"""Fault rules: what to break in the embedded engine, and the client that installs them.

A rule is either a *service* fault (answered by the engine's gateway, for every caller:
clients outside, functions inside, Step Functions' own service integrations) or a
*function* fault (applied by the local-process Lambda executor to invocations of one
function). JSON, as the engine's `/_testbed/faults` endpoint, the CLI and the pytest
fixture take it:

    {"service": "dynamodb", "operation": "TransactWriteItems", "resource": "*-sales-orders",
     "error": "ProvisionedThroughputExceededException", "count": 2}
    {"service": "s3", "operation": "GetObject", "latency_ms": 300, "probability": 0.5}
    {"function": "*-processing-process", "fault": "timeout", "count": 1}
    {"function": "*-sales-store", "fault": "error", "error": "TransientStoreError", "probability": 0.1}

Matching: `service` and `operation` (case-insensitive; operation omitted = any), `region`
(exact), `resource` and `function` (shell patterns, `fnmatch`, against the name and the ARN
the request carries). A rule fires with `probability` (in [0, 1], default 1) until it fired
`count` times (at least 1; default: no limit); the first rule that fires wins (in the order
the rules were added). Rules are indexed by service and operation, so thousands of them
cost a request only the few of its own service.

Checked on the way in, each refusal naming the field and the rule it breaks: the types,
`latency_ms` at most `MAX_LATENCY_MS` (15 minutes, Lambda's longest timeout: no call of a
pipeline waits longer), an `id` of letters, digits, `.`, `_` and `-` (it goes into a URL
path), and a request body of at most `MAX_BODY_BYTES` nested at most `MAX_NESTING` deep.
`matched` counts the requests a rule matched (also once exhausted), `fired` the times it
acted. Function faults: `error` (an
invocation error of type `error`), `timeout` (`Sandbox.Timedout`, the sandbox replaced),
`crash` (`Runtime.ExitError`, the sandbox replaced), `throttle` (the Invoke call answers
429 `TooManyRequestsException`, as Lambda does; no invocation happens) and `latency`
(`latency_ms` added, then the function runs). Any rule may carry `latency_ms`: the delay
comes first, then the fault.

Only the standard library is used: the engine (infra/serverless_testbed/localstack_plugins/faults.py) and the
host side share this module.
"""

from __future__ import annotations

import fnmatch
import heapq
import itertools
import json
import random
import re
import threading
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal, get_args

from serverless_testbed.errors import BadInput, EngineNotUp, TestbedError

FAULTS_PATH = "/_testbed/faults"
MAX_LATENCY_MS = 900_000  # Lambda's longest timeout (15 min); a longer delay only breaks the engine's clocks
MAX_BODY_BYTES = 1_000_000
MAX_NESTING = 8  # {"rules": [{...}]} is 3 deep
MAX_ID = 64
ID_CHARACTERS = re.compile(r"[A-Za-z0-9._-]+")
FunctionFault = Literal["error", "timeout", "crash", "throttle", "latency"]
FUNCTION_FAULTS: tuple[str, ...] = get_args(FunctionFault)
SERVICE_FAULTS = ("error", "latency")
# HTTP statuses AWS answers these codes with; any other code is a 400 (a client error).
STATUS_OF_CODE = {
    "InternalServerError": 500,
    "InternalFailure": 500,
    "InternalError": 500,
    "ServiceException": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "SlowDown": 503,
    "TooManyRequestsException": 429,
    "RequestTimeout": 408,
}
# Request fields that name the resource a call is about, per AWS's APIs.
_NAMING_FIELDS = (
    "TableName",
    "Bucket",
    "QueueUrl",
    "QueueName",
    "StreamName",
    "StreamARN",
    "FunctionName",
    "TopicArn",
    "TargetArn",
    "stateMachineArn",
    "executionArn",
    "EventBusName",
)


@dataclass
class FaultRule:
    """One fault rule (see the module docstring for the JSON and its meaning)."""

    service: str | None = None
    operation: str | None = None
    region: str | None = None
    resource: str | None = None
    function: str | None = None
    fault: str | None = None
    error: str | None = None
    message: str | None = None
    status: int | None = None
    latency_ms: int = 0
    probability: float = 1.0
    count: int | None = None
    id: str = ""
    matched: int = 0
    fired: int = 0

    @classmethod
    def from_json(cls, data: Any) -> FaultRule:
        """A checked rule from its JSON object; BadInput saying what is wrong otherwise."""
        if not isinstance(data, Mapping):
            raise BadInput(f"a fault rule is a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)} - {"matched", "fired"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise BadInput(f"unknown fault rule field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        try:
            rule = cls(**{key: value for key, value in data.items() if value is not None})
        except TypeError as err:
            raise BadInput(f"bad fault rule {dict(data)!r}: {err}") from None
        rule._check()
        return rule

    def _check(self) -> None:
        for name in ("service", "operation", "region", "resource", "function", "fault", "error", "message", "id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise BadInput(f"fault rule field {name!r} must be a string, got {value!r}")
        if (self.service is None) == (self.function is None):
            raise BadInput("a fault rule names either a service (a service fault) or a function (a function fault)")
        for name in ("latency_ms", "count", "status"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
                raise BadInput(f"fault rule field {name!r} must be a whole number >= 0, got {value!r}")
        if self.latency_ms > MAX_LATENCY_MS:
            raise BadInput(
                f"fault rule 'latency_ms' must be at most {MAX_LATENCY_MS} (15 minutes, Lambda's longest timeout), "
                f"got {self.latency_ms}"
            )
        if self.count is not None and self.count < 1:
            raise BadInput(f"fault rule 'count' must be at least 1 (leave it out for no limit), got {self.count}")
        if self.status is not None and not 400 <= self.status <= 599:
            raise BadInput(f"fault rule 'status' must be an HTTP error status (400-599), got {self.status}")
        if isinstance(self.probability, bool) or not isinstance(self.probability, int | float):
            raise BadInput(f"fault rule 'probability' must be a number, got {self.probability!r}")
        if not 0 <= self.probability <= 1:
            raise BadInput(f"fault rule 'probability' must be in [0, 1], got {self.probability}")
        if self.id and (len(self.id) > MAX_ID or not ID_CHARACTERS.fullmatch(self.id)):
            raise BadInput(
                f"fault rule 'id' must be 1 to {MAX_ID} letters, digits, '.', '_' or '-' (it goes into a URL), "
                f"got {self.id[:80]!r}"
            )
        self.probability = float(self.probability)
        if self.fault is None:
            self.fault = "error" if self.error else ("latency" if self.latency_ms else None)
        if self.service is not None:
            if self.fault not in SERVICE_FAULTS:
                raise BadInput(
                    f"a service fault gives an 'error' (an AWS error code) or 'latency_ms'; got {self.fault!r}"
                )
            if self.fault == "error" and not self.error:
                raise BadInput("a service error fault needs 'error', the AWS error code to answer with")
            if self.function is None and self.fault == "latency" and not self.latency_ms:
                raise BadInput("a latency fault needs 'latency_ms' > 0")
        else:
            if self.fault not in FUNCTION_FAULTS:
                raise BadInput(f"a function fault is one of {', '.join(FUNCTION_FAULTS)}; got {self.fault!r}")
            if self.fault == "latency" and not self.latency_ms:
                raise BadInput("a latency fault needs 'latency_ms' > 0")
            if self.fault == "error" and not self.error:
                raise BadInput("a function error fault needs 'error', the errorType the invocation fails with")
        if self.service is not None:
            self.service = self.service.lower()
        if not self.id:
            self.id = uuid.uuid4().hex[:8]

    @property
    def http_status(self) -> int:
        """The status a service error answers with: `status`, else AWS's for the code, else 400."""
        return self.status or STATUS_OF_CODE.get(self.error or "", 400)

    @property
    def text(self) -> str:
        """The error message: `message`, else one saying the fault was injected."""
        return self.message or f"injected fault {self.id}: {self.error or self.fault}"

    def to_json(self) -> dict[str, Any]:
        """The rule as JSON, with how often it matched and fired; unset fields left out."""
        return {key: value for key, value in asdict(self).items() if value is not None}

    def spec(self) -> dict[str, Any]:
        """The rule as JSON to install (what `to_json` gives, without the counts)."""
        return {key: value for key, value in self.to_json().items() if key not in ("matched", "fired")}

    def exhausted(self) -> bool:
        return self.count is not None and self.fired >= self.count

    def matches_service(self, service: str, operation: str, region: str, resources: Iterable[str]) -> bool:
        """Whether this service rule applies to a request about `resources` (their names)."""
        if self.service is None or self.service != service.lower():
            return False
        if self.operation is not None and self.operation.lower() != operation.lower():
            return False
        if self.region is not None and self.region != region:
            return False
        return self.resource is None or any(_matches(self.resource, name) for name in resources)

    def matches_function(self, function_name: str) -> bool:
        return self.function is not None and _matches(self.function, function_name)


def _matches(pattern: str, name: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(short_name(name), pattern)


def short_name(name: str) -> str:
    """The resource's own name from an ARN or URL (a queue URL's last part, a function ARN's name)."""
    if name.startswith("arn:"):
        parts = name.split(":")
        if len(parts) > 6 and parts[2] == "lambda" and parts[5] == "function":
            return parts[6]
        return parts[-1].rsplit("/", 1)[-1] if len(parts) > 5 else name
    if "://" in name:
        return name.rstrip("/").rsplit("/", 1)[-1]
    return name.split(":", 1)[0] if name.count(":") == 1 else name


def request_resources(params: Mapping[str, Any] | None) -> list[str]:
    """The names (as sent) of the resources a parsed AWS request is about."""
    if not params:
        return []
    found = [str(params[key]) for key in _NAMING_FIELDS if isinstance(params.get(key), str)]
    items = params.get("RequestItems")
    if isinstance(items, Mapping):  # DynamoDB BatchWriteItem / BatchGetItem
        found += [str(table) for table in items]
    for entry in params.get("TransactItems") or []:
        if isinstance(entry, Mapping):
            found += [str(op["TableName"]) for op in entry.values() if isinstance(op, Mapping) and "TableName" in op]
    for entry in params.get("Entries") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("EventBusName"), str):
            found.append(entry["EventBusName"])
    return found


def parse_rules_text(body: bytes) -> list[FaultRule]:
    """Rules from a request body (JSON); BadInput when it is too large, too deeply nested or not JSON."""
    if len(body) > MAX_BODY_BYTES:
        raise BadInput(f"the fault rules' body is {len(body)} bytes; at most {MAX_BODY_BYTES}")
    depth = nesting(body)
    if depth > MAX_NESTING:
        raise BadInput(f"the fault rules' JSON is nested {depth} deep; rules are at most {MAX_NESTING} deep")
    try:
        document = json.loads(body or b"null")
    except (ValueError, RecursionError) as err:
        raise BadInput(f"the fault rules are not JSON: {err}") from None
    return parse_rules(document)


def nesting(body: bytes) -> int:
    """How deep JSON arrays and objects nest in `body` (brackets inside strings not counted)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def parse_rules(document: Any) -> list[FaultRule]:
    """Rules from a JSON document: one rule object, a list of them, or {"rules": [...]}."""
    if isinstance(document, Mapping) and "rules" in document and len(document) == 1:
        document = document["rules"]
    items = document if isinstance(document, list) else [document]
    if not items:
        raise BadInput("no fault rule given")
    return [FaultRule.from_json(item) for item in items]


class _Bucket:
    """The service rules of one (service, operation), indexed by their `resource`: by the name a
    rule names exactly, by the pattern it names (each distinct pattern matched once per request),
    and the rules that name none. Thousands of rules for other resources cost a request little."""

    def __init__(self) -> None:
        self.exact: dict[str, list[tuple[int, FaultRule]]] = {}
        self.patterns: dict[str, list[tuple[int, FaultRule]]] = {}
        self.anywhere: list[tuple[int, FaultRule]] = []

    def add(self, number: int, rule: FaultRule) -> None:
        if rule.resource is None:
            self.anywhere.append((number, rule))
        elif any(char in rule.resource for char in "*?["):
            self.patterns.setdefault(rule.resource, []).append((number, rule))
        else:
            self.exact.setdefault(rule.resource, []).append((number, rule))

    def candidates(self, names: list[str]) -> list[list[tuple[int, FaultRule]]]:
        """The rules whose resource matches one of `names` (each list in the order added)."""
        found = [self.anywhere]
        for name in {*names, *(short_name(name) for name in names)}:
            if name in self.exact:
                found.append(self.exact[name])
        found += [rules for pattern, rules in self.patterns.items() if any(_matches(pattern, n) for n in names)]
        return found


def _unique(rules: Iterable[FaultRule]) -> Iterator[FaultRule]:
    seen: set[int] = set()
    for rule in rules:
        if id(rule) not in seen:
            seen.add(id(rule))
            yield rule


class UnknownRule(BadInput):
    """No rule has the id asked for."""


@dataclass
class FaultBook:
    """The engine's rules, thread-safe: requests and invocations ask it whether to fail.

    Service rules are indexed by (service, operation or None), function rules kept apart; each
    rule has a sequence number, so candidates from several buckets are tried in the order the
    rules were added."""

    rules: list[FaultRule] = field(default_factory=list)
    chance: random.Random = field(default_factory=random.Random)
    lock: threading.Lock = field(default_factory=threading.Lock)
    _by_service: dict[tuple[str, str | None], _Bucket] = field(default_factory=dict)
    _functions: list[tuple[int, FaultRule]] = field(default_factory=list)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)

    def add(self, rules: Iterable[FaultRule]) -> list[FaultRule]:
        added = list(rules)
        with self.lock:
            taken = {rule.id for rule in self.rules}
            for rule in added:
                if rule.id in taken:
                    raise BadInput(f"a fault rule with id {rule.id!r} exists already")
                taken.add(rule.id)
            for rule in added:
                self._index(next(self._sequence), rule)
            self.rules.extend(added)
        return added

    def _index(self, number: int, rule: FaultRule) -> None:
        if rule.service is not None:
            key = (rule.service, rule.operation.lower() if rule.operation else None)
            self._by_service.setdefault(key, _Bucket()).add(number, rule)
        else:
            self._functions.append((number, rule))

    def listing(self) -> list[dict[str, Any]]:
        with self.lock:
            return [rule.to_json() for rule in self.rules]

    def clear(self, rule_id: str | None = None) -> int:
        """Remove every rule, or the one with `rule_id` (UnknownRule when none has it); how many were removed."""
        with self.lock:
            before = len(self.rules)
            kept = [rule for rule in self.rules if rule_id is not None and rule.id != rule_id]
            if rule_id is not None and len(kept) == before:
                raise UnknownRule(f"no fault rule with id {rule_id!r} is installed")
            self.rules = []
            self._by_service, self._functions = {}, []
            for rule in kept:
                self._index(next(self._sequence), rule)
            self.rules = kept
            return before - len(kept)

    def _fire(self, candidates: Iterable[FaultRule]) -> FaultRule | None:
        with self.lock:
            for rule in candidates:
                rule.matched += 1
                if rule.exhausted():
                    continue
                if rule.probability >= 1 or (rule.probability > 0 and self.chance.random() < rule.probability):
                    rule.fired += 1
                    return FaultRule(**asdict(rule))  # a copy: the caller reads it outside the lock
        return None

    def service_fault(self, service: str, operation: str, region: str, resources: Iterable[str]) -> FaultRule | None:
        """The service rule that fires for this request, if any (counted as fired)."""
        names = list(resources)
        service = service.lower()
        lists: list[list[tuple[int, FaultRule]]] = []
        for key in ((service, operation.lower()), (service, None)):
            if (bucket := self._by_service.get(key)) is not None:
                lists += bucket.candidates(names)
        ordered = _unique(rule for _, rule in heapq.merge(*lists, key=lambda entry: entry[0]))
        return self._fire(r for r in ordered if r.matches_service(service, operation, region, names))

    def function_fault(self, function_name: str, faults: Iterable[str]) -> FaultRule | None:
        """The function rule of one of `faults` that fires for this invocation, if any."""
        wanted = set(faults)
        return self._fire(r for _, r in self._functions if r.fault in wanted and r.matches_function(function_name))


class FaultsClient:
    """The engine's fault endpoint over HTTP (what the CLI and the pytest fixture use)."""

    def __init__(self, endpoint_url: str, timeout: float = 10) -> None:
        self.url = endpoint_url.rstrip("/") + FAULTS_PATH
        self.timeout = timeout
        self.installed: list[str] = []  # ids of the rules this client added

    def add(self, rules: Iterable[FaultRule | Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Install rules; the rules as the engine holds them (with their ids)."""
        body = [rule.spec() if isinstance(rule, FaultRule) else dict(rule) for rule in rules]
        added: list[dict[str, Any]] = self._call("POST", body)["rules"]
        self.installed += [rule["id"] for rule in added]
        return added

    def remove_installed(self) -> int:
        """Remove the rules this client added, and only those: other sessions on the same
        engine keep theirs; how many were still installed."""
        removed = 0
        for rule_id in self.installed:
            try:
                removed += self.clear(rule_id)
            except UnknownRule:
                continue  # cleared meanwhile (a test's own `faults clear`)
        self.installed = []
        return removed

    def inject(self, **rule: Any) -> dict[str, Any]:
        """Install one rule given as keyword arguments; the rule as the engine holds it."""
        return self.add([rule])[0]

    def fired(self, rule_id: str) -> int:
        """How many times the rule with `rule_id` fired so far."""
        for rule in self.list():
            if rule["id"] == rule_id:
                return int(rule["fired"])
        raise BadInput(f"no fault rule with id {rule_id!r} is installed")

    def list(self) -> list[dict[str, Any]]:
        """Every rule with how many requests it matched and how many times it fired."""
        rules: list[dict[str, Any]] = self._call("GET")["rules"]
        return rules

    def clear(self, rule_id: str | None = None) -> int:
        """Remove every rule (or one); how many were removed."""
        cleared: int = self._call("DELETE", path=f"/{rule_id}" if rule_id else "")["cleared"]
        return cleared

    def _call(self, method: str, body: Any = None, path: str = "") -> dict[str, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
                return answer
        except urllib.error.HTTPError as err:
            text = err.read().decode(errors="replace")
            if err.code == 400:
                raise BadInput(_error_of(text)) from None
            if err.code == 404 and path and _error_of(text) != text:  # the endpoint's own answer: no such rule
                raise UnknownRule(_error_of(text)) from None
            if err.code == 404:
                raise TestbedError(
                    f"{self.url} answered 404: this engine has no fault injection (only the embedded engine has)"
                ) from None
            raise TestbedError(f"{method} {self.url} answered {err.code}: {text[:300]}") from None
        except urllib.error.URLError as err:
            raise EngineNotUp(f"no engine answers at {self.url} ({err.reason})") from None


def _error_of(text: str) -> str:
    try:
        return str(json.loads(text)["error"])
    except (ValueError, KeyError, TypeError):
        return text
