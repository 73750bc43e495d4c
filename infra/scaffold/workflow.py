"""`testbed new workflow NAME`: a working workflow written from templates.

A scaffolded workflow validates one record per execution: a Lambda with a pure rules
module decides, a valid record is put in a DynamoDB table, an invalid one goes to an SQS
queue with its reasons. It is complete: the ASL, the function folder, the stack module
(its `WORKFLOW` makes the registry find it), a seeded generator with expected outcomes, a
runner for `testbed run`, a unit test and an integration test.

The name is checked before anything is written: lower-case words joined by '-', not a
Python keyword, not a workflow already, its resources not already named in the stack,
and none of the files (nor a test file of the same name elsewhere under tests/, which
pytest would refuse) already there. Files are created, never overwritten; should writing
fail halfway, the files written are removed again.
"""

from __future__ import annotations

import keyword
from dataclasses import dataclass
from pathlib import Path

from infra.errors import BadInput, TestbedError
from infra.scaffold.render import render, template_text

MAX_NAME = 30  # the longest deployed name, `<prefix>-<name>-validate-role`, stays within IAM's 64
TEMPLATES = "workflow"


class ScaffoldRefused(BadInput):
    """The scaffold would not work (a bad or taken name) or would overwrite something."""


class ScaffoldFailed(TestbedError):
    """Writing the files failed (a full disk, a folder not writable); what was written is removed."""


@dataclass(frozen=True)
class WorkflowNames:
    """Every name a scaffolded workflow uses, derived from its one name."""

    name: str  # late-payments: the workflow, `testbed run late-payments`
    module: str  # late_payments: the Python modules, the ASL file
    package: str  # late_payments_validate: the function folder under src/

    @classmethod
    def of(cls, name: str) -> WorkflowNames:
        """The names of workflow `name`; ScaffoldRefused says what is wrong with it."""
        from infra.workflows.workflow import NAME

        if not NAME.fullmatch(name):
            raise ScaffoldRefused(
                f"workflow name {name!r}: use lower-case words of letters and digits joined by '-', "
                "starting with a letter (e.g. invoices, late-payments)"
            )
        if len(name) > MAX_NAME:
            raise ScaffoldRefused(f"workflow name {name!r} is {len(name)} characters long; at most {MAX_NAME}")
        module = name.replace("-", "_")
        if keyword.iskeyword(module):
            raise ScaffoldRefused(f"workflow name {name!r}: {module!r} is a Python keyword and cannot name a module")
        return cls(name=name, module=module, package=f"{module}_validate")

    @property
    def resources(self) -> dict[str, str]:
        """The logical names of its resources, derived roles included (as in the templates)."""
        return {
            "table": f"{self.name}-records",
            "queue": f"{self.name}-rejected",
            "function": f"{self.name}-validate",
            "machine": self.name,
            "function role": f"{self.name}-validate-role",
            "machine role": f"{self.name}-role",
        }

    def values(self) -> dict[str, str]:
        """What the templates' placeholders are filled with."""
        return {
            "name": self.name,
            "module": self.module,
            "package": self.package,
            "asl": f"{self.module}.asl.json",
            "title": self.name.replace("-", " ").capitalize(),
        }

    def files(self) -> dict[str, str]:
        """Each file to write, relative to the project root, and its template."""
        module, package = self.module, self.package
        return {
            f"asl/{module}.asl.json": "asl.json.tmpl",
            f"src/{package}/handler.py": "handler.py.tmpl",
            f"src/{package}/rules.py": "rules.py.tmpl",
            f"infra/workflows/{module}.py": "stack.py.tmpl",
            f"fixtures/{module}.py": "fixtures.py.tmpl",
            f"infra/runs/{module}.py": "runner.py.tmpl",
            f"tests/unit/{module}/test_{module}_rules.py": "test_rules.py.tmpl",
            f"tests/integration/{module}/test_{module}.py": "test_workflow.py.tmpl",
        }


def default_root() -> Path:
    """The checkout this package runs from: the one `testbed deploy` and `run` load workflows from."""
    return Path(__file__).resolve().parents[2]


def check_root(root: Path) -> None:
    """`root` must be a project checkout: asl/, src/, infra/workflows/, fixtures/, tests/."""
    needed = ("asl", "src", "infra/workflows", "infra/runs", "fixtures", "tests")
    missing = [folder for folder in needed if not (root / folder).is_dir()]
    if missing:
        raise ScaffoldRefused(
            f"{root} is not a testbed project (no {', '.join(f'{m}/' for m in missing)}); "
            "pass --root with the checkout to add the workflow to"
        )


def check_free(names: WorkflowNames, root: Path) -> None:
    """Refuse a name that is taken: a workflow, a resource of the stack, a file under `root`."""
    from infra.workflows import WORKFLOWS, stack_for

    if names.name in WORKFLOWS:
        raise ScaffoldRefused(f"a workflow named {names.name!r} exists already ({', '.join(WORKFLOWS)} do)")
    existing = {resource.name for resource in stack_for().resources}
    taken = sorted(f"{what} {logical}" for what, logical in names.resources.items() if logical in existing)
    if taken:
        raise ScaffoldRefused(
            f"workflow {names.name!r} would name its {', '.join(taken)}, which another workflow's resource is named"
        )
    present = [path for path in names.files() if (root / path).exists()]
    if present:
        raise ScaffoldRefused(
            f"workflow {names.name!r}: {', '.join(present)} exist(s) already under {root}; nothing was written"
        )
    tests = {Path(path).name for path in names.files() if path.startswith("tests/")}
    clashes = sorted(str(path.relative_to(root)) for path in (root / "tests").rglob("test_*.py") if path.name in tests)
    if clashes:
        raise ScaffoldRefused(
            f"workflow {names.name!r}: pytest needs test file names unique under tests/, and "
            f"{', '.join(clashes)} exist(s); choose another name"
        )


def scaffold_workflow(name: str, root: Path | None = None) -> list[Path]:
    """Write workflow `name` under `root` (default: this checkout); the files written.

    ScaffoldRefused, before anything is written, when the name or the root will not do.
    """
    names = WorkflowNames.of(name)
    root = (root or default_root()).resolve()
    check_root(root)
    check_free(names, root)
    values = names.values()
    rendered = {
        root / path: render(template_text(TEMPLATES, template), values, source=template)
        for path, template in names.files().items()
    }
    written: list[Path] = []
    made: list[Path] = []
    try:
        for path, text in rendered.items():
            for folder in reversed([path.parent, *path.parent.parents]):
                if not folder.exists():
                    folder.mkdir()
                    made.append(folder)
            with path.open("x", encoding="utf-8") as handle:  # "x": never overwrite, even a file made meanwhile
                written.append(path)
                handle.write(text)
    except OSError as err:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            folder.rmdir()
        raise ScaffoldFailed(f"workflow {name!r} not written ({err}); nothing of it is left under {root}") from err
    return written
