"""Choice rules in words short enough for an edge label: `$.status == "ok"`, `$.n >= 3 and ...`."""

from __future__ import annotations

import json
from typing import Any

# Longest suffix first: NumericLessThanEquals is <=, not ==.
_OPERATORS = {
    "LessThanEquals": "<=",
    "GreaterThanEquals": ">=",
    "LessThan": "<",
    "GreaterThan": ">",
    "Equals": "==",
    "Matches": "matches",
}
_TESTS = ("IsPresent", "IsNull", "IsString", "IsNumeric", "IsBoolean", "IsTimestamp")


def describe(rule: dict[str, Any]) -> str:
    """One Choice rule (JSONPath `Variable` comparisons, And/Or/Not, or a JSONata `Condition`) as text."""
    if "Condition" in rule:
        return str(rule["Condition"]).strip("{} %")
    if "And" in rule:
        return " and ".join(grouped(item) for item in rule["And"])
    if "Or" in rule:
        return " or ".join(grouped(item) for item in rule["Or"])
    if "Not" in rule:
        return f"not {grouped(rule['Not'])}"
    variable = rule.get("Variable", "?")
    for test in _TESTS:
        if test in rule:
            word = test[2:].lower()
            return f"{variable} is {'' if rule[test] else 'not '}{word}"
    for key, value in rule.items():
        if key in ("Variable", "Next", "Comment", "Assign"):
            continue
        path = key.endswith("Path")
        base = key.removesuffix("Path")
        for suffix, operator in _OPERATORS.items():
            if base.endswith(suffix):
                shown = value if path else json.dumps(value)
                return f"{variable} {operator} {shown}"
        return f"{variable} {key} {json.dumps(value)}"
    return "?"


def grouped(rule: dict[str, Any]) -> str:
    """`describe(rule)`, in parentheses when it is an And or an Or."""
    text = describe(rule)
    return f"({text})" if any(key in rule for key in ("And", "Or")) else text


def shorten(text: str, limit: int = 38) -> str:
    """`text` cut to `limit` characters with an ellipsis (the full text goes into the tooltip)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def wrap(text: str, width: int = 30, lines: int = 6) -> str:
    """`text` broken into at most `lines` lines of about `width` characters, at spaces, and
    inside a long JSONPath at its dots (`$.putResult.SdkHttpMetadata` / `.HttpStatusCode`)."""
    out: list[str] = []
    for word in (piece for token in text.split(" ") for piece in _pieces(token, width)):
        if out and len(out[-1]) + 1 + len(word) <= width and not word.startswith("."):
            out[-1] += " " + word
        elif out and word.startswith(".") and len(out[-1]) + len(word) <= width:
            out[-1] += word
        else:
            out.append(word)
    if len(out) > lines:
        out = [*out[: lines - 1], shorten(" ".join(out[lines - 1 :]), width)]
    return "\n".join(shorten(line, width + 8) for line in out)


def _pieces(token: str, width: int) -> list[str]:
    """A token longer than `width` split before its dots (the first piece keeps no dot)."""
    if len(token) <= width or "." not in token:
        return [token]
    head, *rest = token.split(".")
    return [head, *(f".{part}" for part in rest)]
