"""State machine coverage: what executions exercised of an ASL definition.

Pure functions of an ASL definition and execution histories (the events of
`GetExecutionHistory`, as dicts), plus `collect`, which reads them from an engine.

    model = Model.from_asl(definition)          # what there is to cover
    cov = Coverage(model)
    cov.add_history(history)                    # one execution (or a Distributed Map child)
    cov.summary()   -> {"states": (3, 5), "transitions": (2, 6), "retries": (1, 2), ...}  # (covered, total)
    cov.to_json()   -> {"executions": n, "states": {"covered", "total", "items": {key: count}}, ...}
    table({"csv-etl": cov, ...}) -> one line per machine

Item keys (stable strings, what a picture or a report can name):
- states: the state's name (names are unique across an ASL definition, nested ones included);
- transitions: `A -> B` (a Next), `A Choices[i] -> B` (the i-th Choice rule), `A Default -> B`;
- retries: `A Retry[i]` (the first Retry rule whose ErrorEquals matches the error retried);
- catches: `A Catch[i] -> B` (the Catch rule that caught the error);
- branches: `A Branches[i]` for a Parallel state, `A ItemProcessor` for a Map.

Histories are read through `previousEventId`, which chains each event to the one before it
in its own branch or iteration, so interleaved Map iterations and Parallel branches are
told apart: a state's failure belongs to the nearest state entered before it on its chain,
and a state entered right after another one exited is a transition between them. The Choice
rule taken is found by evaluating the rules on the Choice state's output (its input).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

KINDS = ("states", "transitions", "retries", "catches", "branches")
# Events that end a failed attempt of a state (ExecutionFailed and MapIterationFailed are not a state's).
FAILURE_EVENTS = {
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
    "MapStateFailed",
    "MapRunFailed",
    "ParallelStateFailed",
}
# Events that begin another attempt of the same state (a Retry fired).
ATTEMPT_EVENTS = {"TaskScheduled", "LambdaFunctionScheduled", "MapStateStarted", "ParallelStateStarted"}
_MISSING = object()


@dataclass(frozen=True)
class Model:
    """Everything an ASL definition offers to cover, and the states' definitions."""

    states: dict[str, dict[str, Any]]
    transitions: tuple[str, ...]
    retries: tuple[str, ...]
    catches: tuple[str, ...]
    branches: tuple[str, ...]

    @classmethod
    def from_asl(cls, definition: Mapping[str, Any] | str) -> Model:
        """The model of a definition (a dict, or its JSON text)."""
        asl = json.loads(definition) if isinstance(definition, str) else definition
        states: dict[str, dict[str, Any]] = {}
        transitions: list[str] = []
        retries: list[str] = []
        catches: list[str] = []
        branches: list[str] = []

        def walk(scope: Mapping[str, Any]) -> None:
            for name, state in scope["States"].items():
                states[name] = dict(state)
                if "Next" in state:
                    transitions.append(f"{name} -> {state['Next']}")
                for index, rule in enumerate(state.get("Choices", [])):
                    transitions.append(f"{name} Choices[{index}] -> {rule['Next']}")
                if "Default" in state:
                    transitions.append(f"{name} Default -> {state['Default']}")
                retries.extend(f"{name} Retry[{index}]" for index in range(len(state.get("Retry", []))))
                catches.extend(f"{name} Catch[{i}] -> {rule['Next']}" for i, rule in enumerate(state.get("Catch", [])))
                for index, branch in enumerate(state.get("Branches", [])):
                    branches.append(f"{name} Branches[{index}]")
                    walk(branch)
                processor = state.get("ItemProcessor") or state.get("Iterator")
                if processor:
                    branches.append(f"{name} ItemProcessor")
                    walk(processor)

        walk(asl)
        return cls(states, tuple(transitions), tuple(retries), tuple(catches), tuple(branches))

    def items(self, kind: str) -> tuple[str, ...]:
        """The keys of one kind (see the module docstring)."""
        return tuple(self.states) if kind == "states" else tuple(getattr(self, kind))


@dataclass
class Coverage:
    """How often executions exercised each item of a model."""

    model: Model
    executions: int = 0
    unlisted_map_runs: int = 0  # Distributed Map runs whose child executions the engine would not list
    counts: dict[str, Counter[str]] = field(default_factory=lambda: {kind: Counter() for kind in KINDS})

    def add_history(self, history: Iterable[Mapping[str, Any]], top_level: bool = True) -> None:
        """Add one execution's events (`top_level=False` for a Distributed Map child execution)."""
        events = {int(event["id"]): event for event in history}
        self.executions += int(top_level)
        found = trace(self.model, events)
        for kind in KINDS:
            self.counts[kind].update(found[kind])

    def summary(self) -> dict[str, tuple[int, int]]:
        """(covered, total) per kind."""
        return {kind: (self._covered(kind), len(self.model.items(kind))) for kind in KINDS}

    def uncovered(self, kind: str) -> list[str]:
        return [key for key in self.model.items(kind) if not self.counts[kind][key]]

    def _covered(self, kind: str) -> int:
        return sum(1 for key in self.model.items(kind) if self.counts[kind][key])

    def merge(self, other: Coverage) -> None:
        """Add what `other` (of the same machine, from another test process) counted."""
        self.executions += other.executions
        self.unlisted_map_runs += other.unlisted_map_runs
        for kind in KINDS:
            self.counts[kind].update(other.counts[kind])

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Coverage:
        """A coverage read back from `to_json()`: enough to merge and report; its model has
        the items but not the states' definitions, so it takes no further histories."""
        items = {kind: tuple(document[kind]["items"]) for kind in KINDS}
        model = Model({name: {} for name in items["states"]}, *(items[kind] for kind in KINDS[1:]))
        counts = {kind: Counter({key: n for key, n in document[kind]["items"].items() if n}) for kind in KINDS}
        return cls(model, document["executions"], document.get("unlisted_map_runs", 0), counts)

    def to_json(self) -> dict[str, Any]:
        """Per kind: covered, total, and every item with how often it was exercised (0: never)."""
        document: dict[str, Any] = {"executions": self.executions, "unlisted_map_runs": self.unlisted_map_runs}
        for kind in KINDS:
            covered, total = self._covered(kind), len(self.model.items(kind))
            items = {key: self.counts[kind][key] for key in self.model.items(kind)}
            document[kind] = {"covered": covered, "total": total, "items": items}
        return document


def trace(model: Model, events: Mapping[int, Mapping[str, Any]]) -> dict[str, Counter[str]]:
    """The items one history exercised (events by id)."""
    found: dict[str, Counter[str]] = {kind: Counter() for kind in KINDS}
    followers: dict[int, list[Mapping[str, Any]]] = {}
    for event in events.values():
        followers.setdefault(int(event.get("previousEventId") or 0), []).append(event)
    failure_of: dict[int, tuple[str, str | None]] = {}  # failure event id -> (state, error)
    for event_id, event in sorted(events.items()):
        kind = event["type"]
        if kind.endswith("StateEntered"):
            _entered(model, events, event, found)
        elif kind in ("MapIterationStarted", "MapRunStarted"):
            name = _details(event).get("name") or _state_of(events, event)
            if name in model.states:
                found["branches"][f"{name} ItemProcessor"] += 1
        elif kind in FAILURE_EVENTS:
            state = _state_of(events, event)
            if state is None:
                continue
            error = _details(event).get("error")
            failure_of[event_id] = (state, error)
            if any(after["type"] in ATTEMPT_EVENTS for after in followers.get(event_id, [])):
                rule = _first_matching(model.states[state].get("Retry", []), error)
                if rule is not None:
                    found["retries"][f"{state} Retry[{rule}]"] += 1
    for event in events.values():
        if not event["type"].endswith("StateEntered"):
            continue
        before = events.get(int(event.get("previousEventId") or 0))
        if before is None or not before["type"].endswith("StateExited"):
            continue
        failed = failure_of.get(int(before.get("previousEventId") or 0))
        if failed is None:
            continue
        state, error = failed
        target = _details(event)["name"]
        catchers = model.states.get(state, {}).get("Catch", [])
        candidates = [i for i, rule in enumerate(catchers) if rule.get("Next") == target]
        matching = [i for i in candidates if _matches(catchers[i].get("ErrorEquals", []), error)]
        if matching or candidates:
            chosen = (matching or candidates)[0]
            found["catches"][f"{state} Catch[{chosen}] -> {target}"] += 1
    return found


def _entered(
    model: Model, events: Mapping[int, Mapping[str, Any]], event: Mapping[str, Any], found: dict[str, Counter[str]]
) -> None:
    name = _details(event)["name"]
    found["states"][name] += 1
    before = events.get(int(event.get("previousEventId") or 0))
    if before is None:
        return
    if before["type"] == "ParallelStateStarted":
        parent = _state_of(events, before)
        for index, branch in enumerate(model.states.get(parent or "", {}).get("Branches", [])):
            if branch.get("StartAt") == name:
                found["branches"][f"{parent} Branches[{index}]"] += 1
        return
    if not before["type"].endswith("StateExited"):
        return
    if events.get(int(before.get("previousEventId") or 0), {}).get("type") in FAILURE_EVENTS:
        return  # a Catch, counted as such
    source = _details(before)["name"]
    state = model.states.get(source, {})
    if state.get("Type") == "Choice":
        found["transitions"][_choice_taken(state, source, _output(before), name)] += 1
    elif state.get("Next") == name:
        found["transitions"][f"{source} -> {name}"] += 1


def _choice_taken(state: Mapping[str, Any], source: str, data: Any, target: str) -> str:
    """The Choice rule that sent `data` to `target` (the rules evaluated in order)."""
    rules = state.get("Choices", [])
    for index, rule in enumerate(rules):
        try:
            holds = evaluate(rule, data)
        except (TypeError, ValueError, KeyError):
            holds = False
        if holds:
            if rule["Next"] == target:
                return f"{source} Choices[{index}] -> {target}"
            break
    else:
        if state.get("Default") == target:
            return f"{source} Default -> {target}"
    # The evaluation disagrees with what happened: the first rule leading there.
    for index, rule in enumerate(rules):
        if rule["Next"] == target:
            return f"{source} Choices[{index}] -> {target}"
    return f"{source} Default -> {target}"


def evaluate(rule: Mapping[str, Any], data: Any) -> bool:
    """Whether a Choice rule (JSONPath comparison, And/Or/Not) holds for `data`."""
    if "And" in rule:
        return all(evaluate(inner, data) for inner in rule["And"])
    if "Or" in rule:
        return any(evaluate(inner, data) for inner in rule["Or"])
    if "Not" in rule:
        return not evaluate(rule["Not"], data)
    value = path_value(data, rule["Variable"])
    for operator, expected in rule.items():
        if operator in ("Variable", "Next", "Comment"):
            continue
        if operator.endswith("Path") and operator != "IsPresent":
            expected = path_value(data, expected)
            operator = operator.removesuffix("Path")
            if expected is _MISSING:
                return False
        return _compare(operator, value, expected)
    raise ValueError(f"a Choice rule without a comparison: {rule}")


def _compare(operator: str, value: Any, expected: Any) -> bool:
    if operator == "IsPresent":
        return (value is not _MISSING) == bool(expected)
    if value is _MISSING:
        return False
    checks: dict[str, Callable[[], bool]] = {
        "IsNull": lambda: (value is None) == expected,
        "IsString": lambda: isinstance(value, str) == expected,
        "IsBoolean": lambda: isinstance(value, bool) == expected,
        "IsNumeric": lambda: (isinstance(value, int | float) and not isinstance(value, bool)) == expected,
        "IsTimestamp": lambda: (isinstance(value, str) and _timestamp(value) is not None) == expected,
        "StringMatches": lambda: isinstance(value, str) and _glob(expected).fullmatch(value) is not None,
        "BooleanEquals": lambda: isinstance(value, bool) and value == expected,
    }
    if operator in checks:
        return bool(checks[operator]())
    for prefix, kind in (("String", str), ("Numeric", (int, float)), ("Timestamp", str)):
        if operator.startswith(prefix):
            if not isinstance(value, kind) or isinstance(value, bool):
                return False
            left: Any = _timestamp(value) if prefix == "Timestamp" else value
            right: Any = _timestamp(expected) if prefix == "Timestamp" else expected
            if left is None or right is None:
                return False
            relation = operator.removeprefix(prefix)
            relations: dict[str, bool] = {
                "Equals": left == right,
                "LessThan": left < right,
                "GreaterThan": left > right,
                "LessThanEquals": left <= right,
                "GreaterThanEquals": left >= right,
            }
            return relations[relation]
    raise ValueError(f"unknown Choice operator {operator}")


def path_value(data: Any, path: str) -> Any:
    """The value at a JSONPath such as `$.a.b[0]` (no filters or wildcards); _MISSING if absent."""
    if path == "$":
        return data
    value = data
    for name, index in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path.removeprefix("$")):
        if name:
            if not isinstance(value, dict) or name not in value:
                return _MISSING
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def _glob(pattern: str) -> re.Pattern[str]:
    parts = re.split(r"(?<!\\)\*", pattern)
    return re.compile(".*".join(re.escape(part.replace("\\*", "*")) for part in parts), re.S)


def _timestamp(text: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def _matches(error_equals: Iterable[str], error: str | None) -> bool:
    names = set(error_equals)
    if "States.ALL" in names:
        return True
    if error is None:
        return False
    return error in names or ("States.TaskFailed" in names and error != "States.Timeout")


def _first_matching(rules: list[Mapping[str, Any]], error: str | None) -> int | None:
    return next((i for i, rule in enumerate(rules) if _matches(rule.get("ErrorEquals", []), error)), None)


def _details(event: Mapping[str, Any]) -> dict[str, Any]:
    return next((dict(value) for key, value in event.items() if key.endswith("EventDetails")), {})


def _output(event: Mapping[str, Any]) -> Any:
    text = _details(event).get("output")
    try:
        return json.loads(text) if text else None
    except ValueError:
        return None


def _state_of(events: Mapping[int, Mapping[str, Any]], event: Mapping[str, Any]) -> str | None:
    """The state an event belongs to: the nearest state entered before it on its chain."""
    current = events.get(int(event.get("previousEventId") or 0))
    while current is not None:
        if current["type"].endswith("StateEntered"):
            name: str = _details(current)["name"]
            return name
        current = events.get(int(current.get("previousEventId") or 0))
    return None


def table(coverages: Mapping[str, Coverage]) -> str:
    """One line per state machine: executions, and covered/total of each kind."""
    width = max((len(name) for name in coverages), default=7)
    lines = [f"{'machine':<{width}}  executions  states  transitions  retries  catches  branches"]
    for name, cov in sorted(coverages.items()):
        s = cov.summary()
        cells = [f"{s[kind][0]}/{s[kind][1]}" for kind in KINDS]
        lines.append(
            f"{name:<{width}}  {cov.executions:>10}  {cells[0]:>6}  {cells[1]:>11}  {cells[2]:>7}"
            f"  {cells[3]:>7}  {cells[4]:>8}"
        )
    return "\n".join(lines)


def report(coverages: Mapping[str, Coverage]) -> dict[str, Any]:
    """The JSON document of a session: per machine, `to_json()` plus the uncovered keys."""
    return {
        name: {**cov.to_json(), "uncovered": {kind: cov.uncovered(kind) for kind in KINDS}}
        for name, cov in sorted(coverages.items())
    }


def collect(
    clients: Any,
    machine_arn: str,
    coverage: Coverage,
    max_children: int = 2000,
    since: datetime | None = None,
    seen: set[str] | None = None,
) -> None:
    """Add every execution of a deployed state machine started at `since` or later (all when
    None), and the child executions of its Distributed Map runs (up to `max_children` per
    run), to `coverage`; an execution whose ARN is in `seen` is counted already (it is added
    to `seen` when counted)."""
    sfn = clients("stepfunctions")
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn):
        for execution in page["executions"]:
            if since is not None and execution["startDate"] < since:
                continue
            if seen is not None:
                if execution["executionArn"] in seen:
                    continue
                seen.add(execution["executionArn"])
            history = _history(sfn, execution["executionArn"])
            coverage.add_history(history)
            for run_arn in map_run_arns(history):
                listed = map_run_children(sfn, run_arn)
                if listed is None:
                    coverage.unlisted_map_runs += 1
                    continue
                for child in listed[:max_children]:
                    coverage.add_history(_history(sfn, child["executionArn"]), top_level=False)


def map_run_arns(history: Iterable[Mapping[str, Any]]) -> list[str]:
    """The ARNs of the Distributed Map runs an execution's history started, in order."""
    found = ((event.get("mapRunStartedEventDetails") or {}).get("mapRunArn") for event in history)
    return [arn for arn in found if arn]


# Endpoints that answered a map run's listing with an error: a stock LocalStack 4.14.0 lists no
# map run's executions (and keeps no history of them). Each attempt costs the SDK's retries with
# backoff (1 to 5 s), so an endpoint is asked once per process.
_UNLISTING_ENDPOINTS: set[str] = set()


def map_run_children(sfn: Any, run_arn: str) -> list[dict[str, Any]] | None:
    """The child executions (`ListExecutions` items) of a Distributed Map run, or None where
    the engine cannot list them (the embedded engine can; a stock LocalStack cannot)."""
    from botocore.exceptions import ClientError, ParamValidationError

    endpoint = str(getattr(getattr(sfn, "meta", None), "endpoint_url", ""))
    if endpoint in _UNLISTING_ENDPOINTS:
        return None
    try:
        pages = list(sfn.get_paginator("list_executions").paginate(mapRunArn=run_arn))
    except (ClientError, ParamValidationError):
        _UNLISTING_ENDPOINTS.add(endpoint)
        return None
    return [dict(child) for page in pages for child in page["executions"]]


def _history(sfn: Any, arn: str) -> list[dict[str, Any]]:
    pages = sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
    return [dict(event) for page in pages for event in page["events"]]
