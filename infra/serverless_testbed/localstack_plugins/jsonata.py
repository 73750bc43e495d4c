"""JSONata for Step Functions without Java (an on_infra_start hook).

LocalStack 4.14.0 evaluates the JSONata expressions of `QueryLanguage: JSONata` state
machines with jsonata-java 0.9.7 in a JVM (JPype), and at first use downloads a JDK 21 and
the jar from Maven Central. Offline, or behind a CI proxy, every such execution fails with
`States.Runtime: "Installation of java 21 failed."`. Here the evaluation is done by
jsonata-python, a pure-Python port of that same jsonata-java implementation (PyPI wheel).

The patch is narrow: LocalStack composes each expression as text (the `$states` and
variable declarations, then the state's expression) and evaluates it with no input through
one function pointer, `jsonata._eval_jsonata`, which it fills with the JVM bridge on first
use. The hook fills it first with `evaluate`, so the JVM is never started; everything else
(composition, `$states`, `$partition`... declarations, result validation, error events) is
LocalStack's own. It applies in stock mode too: a stock LocalStack container that can reach
the internet installs Java and answers the same.
"""

from __future__ import annotations

import logging
import math
from types import ModuleType
from typing import Any

from localstack.runtime import hooks
from serverless_testbed.localstack_plugins.imports import after_import
from serverless_testbed.localstack_plugins.scope import only_in_testbed_engine

LOG = logging.getLogger(__name__)

JSONATA_MODULE = "localstack.services.stepfunctions.asl.jsonata.jsonata"


class JSONataResultError(ValueError):
    """An expression's value that JSON cannot hold (a function, an infinite number)."""


@hooks.on_infra_start()
@only_in_testbed_engine()  # not a fidelity patch: it answers as a stock LocalStack that could download Java
def jsonata_without_java() -> None:
    after_import(JSONATA_MODULE, _patch_jsonata)


def _patch_jsonata(module: ModuleType) -> None:
    exception_type = module.JSONataException

    def eval_jsonata(expression: str) -> Any:
        try:
            return evaluate(expression)
        except Exception as err:  # as the JVM bridge does: every failure becomes LocalStack's one type
            raise exception_type("UNKNOWN", str(err)) from err

    setattr(module, "_eval_jsonata", eval_jsonata)  # noqa: B010 - module attribute patch
    LOG.debug("step functions JSONata is evaluated by jsonata-python (no JVM)")


def evaluate(expression: str) -> Any:
    """The value of a JSONata expression evaluated with no input, as plain JSON values
    (what LocalStack's JVM bridge returns: Jackson's JSON text, parsed back); None for
    both `null` and nothing (LocalStack tells them apart with `$exists`)."""
    from jsonata import Jsonata  # type: ignore[import-untyped]  # the package ships no type information

    return plain_json(Jsonata(expression).evaluate(None))


def plain_json(value: Any) -> Any:
    """`value` (jsonata-python's lists, dicts, numbers) as dict/list/str/int/float/bool/None.

    Whole numbers come back as int, as JSON text of JavaScript's JSONata prints them
    (`1.0` and `2 * 1.5` are `1` and `3`); other numbers as float."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise JSONataResultError(f"the expression returned {value}, which is not a JSON number")
        return int(value) if value.is_integer() and abs(value) < 2**63 else value
    if isinstance(value, dict):
        return {str(key): plain_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_json(item) for item in value]
    raise JSONataResultError(f"the expression returned a {type(value).__name__}, which is not a JSON value")
