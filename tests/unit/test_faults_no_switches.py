"""No test switches in production code: failure paths are tested with faults injected from
outside (infra/serverless_testbed/faults.py), never by an input field, a marker object or an environment
variable that exists only so that a test can make a function fail. This scans every
function under src/ and fails if such a switch comes back."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Words a switch is named with: simulate, fail-next, failure marker, inject, test hook, chaos, fault.
# Not inside a word ("default" is no "fault"); docstrings are prose and not looked at.
SWITCH_WORDS = re.compile(
    r"(?<![a-z])(simulat|fail[-_ ]?next|fail[-_ ]?once|failure[-_ ]?marker|inject|test[-_ ]?hook|chaos|fault[-_ ]?inj)",
    re.I,
)
# Environment variables a switch would be read from.
SWITCH_ENV = re.compile(r"(?<![a-z])(fail|fault|simulat|inject|chaos)|^test[-_]", re.I)


def switches(source: str, filename: str = "<source>") -> list[str]:
    """Where `source` holds something that looks like a test switch: names, strings and
    environment variables (file:line and what was seen)."""
    tree = ast.parse(source, filename)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    found = []
    for node in ast.walk(tree):
        seen: str | None = None
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Name | ast.FunctionDef | ast.ClassDef | ast.arg | ast.Attribute):
            name = getattr(node, "id", None) or getattr(node, "name", None) or getattr(node, "arg", None)
            name = name or getattr(node, "attr", None)
            if name and SWITCH_WORDS.search(name):
                seen = f"name {name!r}"
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SWITCH_WORDS.search(node.value):
            seen = f"string {node.value[:60]!r}"
        elif isinstance(node, ast.Subscript | ast.Call):
            text = ast.unparse(node)
            if "environ" in text or "getenv" in text:
                for constant in ast.walk(node):
                    value = constant.value if isinstance(constant, ast.Constant) else None
                    if isinstance(value, str) and SWITCH_ENV.search(value):
                        seen = f"environment variable {value!r}"
        if seen:
            found.append(f"{filename}:{getattr(node, 'lineno', '?')}: {seen}")
    return found


def production_files() -> list[Path]:
    return sorted(path for path in (ROOT / "src").rglob("*.py") if "__pycache__" not in path.parts)


def test_no_function_under_src_holds_a_test_switch() -> None:
    files = production_files()
    assert len(files) > 10, f"expected the functions under {ROOT / 'src'}, found {files}"
    found = [hit for path in files for hit in switches(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, (
        "test switches in production code (inject faults instead, infra/serverless_testbed/faults.py):\n"
        + "\n".join(found)
    )


# What the switches this project used to have looked like: the check must catch each.
OLD_SWITCHES = {
    "an input field": """
def run_step(payload):
    simulate = payload.get("simulate")
    if simulate == "transient-once":
        raise TransientProcessingError("first attempt")
""",
    "a marker object": """
import os
def handler(event, context):
    marker = os.environ.get("FAILURE_MARKER_KEY")
""",
    "an environment switch": """
import os
if os.environ["FAIL_NEXT_WRITE"] == "1":
    raise RuntimeError("boom")
""",
    "a helper named for it": """
def inject_failure(bucket, key):
    pass
""",
}


@pytest.mark.parametrize("source", OLD_SWITCHES.values(), ids=OLD_SWITCHES.keys())
def test_the_check_catches_the_switches_that_were_removed(source: str) -> None:
    assert switches(source), f"the check missed a switch in:\n{source}"


def test_the_check_leaves_ordinary_code_alone() -> None:
    ordinary = """
import os
TABLE = os.environ["STAGE_TABLE"]
def handler(event, context):
    if event.get("retry"):
        return {"failed": [r for r in event["records"] if not r["ok"]]}
"""
    assert switches(ordinary) == []
