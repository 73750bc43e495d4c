"""Step Functions' DescribeStateMachine without parsing the definition again (an
on_infra_start hook).

LocalStack 4.14.0 answers every DescribeStateMachine by parsing the state machine's ASL
with its ANTLR parser to list the variables each state references (`variableReferences`):
15 to 90 ms per call on this machine, most of a deploy that finds nothing to change (it
describes every state machine). The answer depends on the definition text alone, so the
engine keeps it per definition (a bounded number of them) and hands out copies.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

# Definitions whose references are kept: more than a stack has state machines, few enough to cost little.
KEPT_DEFINITIONS = 256


def remembered(analyse: Any, kept: int = KEPT_DEFINITIONS) -> Any:
    """`analyse(definition)` answered once per definition text (the `kept` most recent),
    each caller given its own copy (the answer goes into a response that may be changed)."""
    answers: OrderedDict[str, Any] = OrderedDict()
    lock = threading.Lock()

    def process_and_get(definition: str) -> Any:
        with lock:
            if definition in answers:
                answers.move_to_end(definition)
                return copy.deepcopy(answers[definition])
        answer = analyse(definition)  # outside the lock: a parse error is raised to this caller only
        with lock:
            answers[definition] = answer
            while len(answers) > kept:
                answers.popitem(last=False)
        return copy.deepcopy(answer)

    return process_and_get


@hooks.on_infra_start()
@only_in_testbed_engine()
def remember_variable_references() -> None:
    from localstack.services.stepfunctions.asl.static_analyser.variable_references_static_analyser import (
        VariableReferencesStaticAnalyser,
    )

    original = VariableReferencesStaticAnalyser.process_and_get
    VariableReferencesStaticAnalyser.process_and_get = staticmethod(remembered(original))
