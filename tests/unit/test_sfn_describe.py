"""DescribeStateMachine's variable references, kept per definition: the same answer as
LocalStack's own analyser (the real one, run here), parsed once, handed out as copies."""

from __future__ import annotations

import json
from typing import Any

import pytest
from localstack.services.stepfunctions.asl.static_analyser.variable_references_static_analyser import (
    VariableReferencesStaticAnalyser,
)
from serverless_testbed.localstack_plugins.sfn_describe import remembered

ANALYSE = VariableReferencesStaticAnalyser.process_and_get
USES_VARIABLES = json.dumps(
    {
        "StartAt": "Set",
        "States": {
            "Set": {"Type": "Pass", "Assign": {"total": 3}, "Next": "Use"},
            "Use": {"Type": "Pass", "Parameters": {"t.$": "$total"}, "End": True},
        },
    }
)
NO_VARIABLES = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


class Counted:
    """LocalStack's analyser, counting the definitions it parses."""

    def __init__(self) -> None:
        self.parsed: list[str] = []

    def __call__(self, definition: str) -> Any:
        self.parsed.append(definition)
        return ANALYSE(definition)


def test_the_answer_is_the_analysers_and_each_definition_is_parsed_once() -> None:
    analyse = Counted()
    process_and_get = remembered(analyse)

    first, again = process_and_get(USES_VARIABLES), process_and_get(USES_VARIABLES)

    assert first == again == ANALYSE(USES_VARIABLES)
    assert first == {"Use": ["total"]}
    assert process_and_get(NO_VARIABLES) == ANALYSE(NO_VARIABLES)
    assert analyse.parsed == [USES_VARIABLES, NO_VARIABLES]


def test_a_caller_changing_its_answer_does_not_change_the_next_one() -> None:
    process_and_get = remembered(Counted())
    answer = process_and_get(USES_VARIABLES)
    answer["Use"].append("changed")
    answer["Other"] = ["x"]

    assert process_and_get(USES_VARIABLES) == {"Use": ["total"]}


def test_only_the_most_recent_definitions_are_kept() -> None:
    analyse = Counted()
    process_and_get = remembered(analyse, kept=1)
    process_and_get(USES_VARIABLES)
    process_and_get(NO_VARIABLES)
    process_and_get(USES_VARIABLES)  # pushed out by NO_VARIABLES: parsed again

    assert analyse.parsed == [USES_VARIABLES, NO_VARIABLES, USES_VARIABLES]


def test_a_definition_the_parser_refuses_is_refused_each_time() -> None:
    analyse = Counted()
    process_and_get = remembered(analyse)
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever LocalStack's parser raises
            process_and_get("{not json")
    assert analyse.parsed == ["{not json", "{not json"]
