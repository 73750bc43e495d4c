"""JSONata without Java (infra/serverless_testbed/localstack_plugins/jsonata.py): what jsonata-python's values
become, and LocalStack's evaluation pointer served by it. Real jsonata-python, real LocalStack
module; no JVM is started (none is installed here)."""

from __future__ import annotations

import importlib
import json

import pytest
from serverless_testbed.localstack_plugins.jsonata import (
    JSONATA_MODULE,
    JSONataResultError,
    _patch_jsonata,
    evaluate,
    plain_json,
)


@pytest.mark.parametrize(
    ("expression", "expected_json"),
    [
        ("1 + 2", "3"),
        ("1.0", "1"),  # JavaScript prints a whole number without `.0`
        ("3 * 1.5", "4.5"),
        ("2 * 1.5", "3"),
        ("$sum([1.25, 1.75])", "3"),
        ("$string(2 * 2.5)", '"5"'),
        ("$string(0.1 + 0.2)", '"0.3"'),  # $string uses 15 significant digits, as JSONata does
        ("$number('42')", "42"),
        ("[1, 2, 3].($ * 1.5)", "[1.5,3,4.5]"),
        ('{"a": null, "b": [1, null]}', '{"a":null,"b":[1,null]}'),
        ("'Mar' & 'ía'", '"María"'),
        ("$exists($nothing)", "false"),
        ("$type(null)", '"null"'),
    ],
)
def test_values_are_plain_json_as_javascript_prints_them(expression, expected_json):
    value = evaluate(expression)
    assert json.dumps(value, separators=(",", ":"), ensure_ascii=False) == expected_json


def test_lists_come_back_as_plain_lists():
    value = evaluate("[{'a': [1, 2]}]")
    assert type(value) is list
    assert type(value[0]["a"]) is list


def test_nothing_and_null_are_both_none():
    # LocalStack tells them apart with $exists (asl/jsonata/validations.py), as with its JVM bridge.
    assert evaluate("$nothing") is None
    assert evaluate("null") is None


def test_a_function_or_an_infinite_number_is_not_json():
    with pytest.raises(JSONataResultError, match="returned a JNativeFunction, which is not a JSON value"):
        evaluate("$sum")
    with pytest.raises(JSONataResultError, match="returned inf, which is not a JSON number"):
        plain_json(float("inf"))


def test_the_patch_serves_localstacks_evaluation_pointer_without_a_jvm():
    module = importlib.import_module(JSONATA_MODULE)
    before = module._eval_jsonata
    try:
        _patch_jsonata(module)
        # The composed expression LocalStack builds: declarations of $states, then the field's expression.
        expression = module.compose_jsonata_expression(
            final_jsonata_expression="$states.input.qty * $price",
            variable_declarations_list=['$states:={"input":{"qty":4}};', "$price:=2.5;"],
        )
        assert module.eval_jsonata_expression(expression) == 10
        with pytest.raises(module.JSONataException) as raised:
            module.eval_jsonata_expression("$number('twelve')")
        assert raised.value.error == "UNKNOWN"
        with pytest.raises(module.JSONataException):
            module.eval_jsonata_expression("(")  # a syntax error
        import jpype

        assert not jpype.isJVMStarted()
    finally:
        module._eval_jsonata = before
