"""`testbed new workflow NAME`: a working workflow written from templates.

A scaffolded workflow validates one record per execution: a Lambda with a pure rules
module decides, a valid record is put in a DynamoDB table, an invalid one goes to an SQS
queue with its reasons. It is complete: the ASL, the function folder, the stack module
(its `WORKFLOW` makes the registry find it), a seeded generator with expected outcomes, a
runner for `testbed run`, a unit test and an integration test. The Python modules go into
the packages the project's `[tool.testbed]` names; a project without that table (an empty
one) gets it, naming packages under `pipelines/` (neither a project's own `infra/` nor the
PyPI package `fixtures` is touched).

The name is checked before anything is written: lower-case words joined by '-', not a
Python keyword, not a workflow already, its resources not already named in the stack,
and none of the files (nor a test file of the same name elsewhere under tests/, which
pytest would refuse) already there. Files are created, never overwritten; should writing
fail halfway, the files written are removed again.
"""

from __future__ import annotations

import keyword
import tomllib
from dataclasses import dataclass
from pathlib import Path

from serverless_testbed.errors import BadInput, TestbedError
from serverless_testbed.project import PYPROJECT, ProjectConfig, ProjectNotFound, find_root, project_config
from serverless_testbed.scaffold.render import render, template_text

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
        from serverless_testbed.workflow import NAME

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

    def values(self, config: ProjectConfig) -> dict[str, str]:
        """What the templates' placeholders are filled with, for a project declaring `config`."""
        return {
            "name": self.name,
            "module": self.module,
            "package": self.package,
            "asl": f"{self.module}.asl.json",
            "title": self.name.replace("-", " ").capitalize(),
            **{f"{key}_package": getattr(config, key) for key in ProjectConfig.KEYS},
            **{f"{key}_dir": getattr(config, key).replace(".", "/") for key in ProjectConfig.KEYS},
        }

    def files(self, config: ProjectConfig) -> dict[str, str]:
        """Each file to write, relative to the project root, and its template."""
        module, package = self.module, self.package
        folder = {key: getattr(config, key).replace(".", "/") for key in ProjectConfig.KEYS}
        return {
            f"asl/{module}.asl.json": "asl.json.tmpl",
            f"src/{package}/handler.py": "handler.py.tmpl",
            f"src/{package}/rules.py": "rules.py.tmpl",
            f"{folder['workflows']}/{module}.py": "stack.py.tmpl",
            f"{folder['fixtures']}/{module}.py": "fixtures.py.tmpl",
            f"{folder['runs']}/{module}.py": "runner.py.tmpl",
            f"tests/unit/{module}/test_{module}_rules.py": "test_rules.py.tmpl",
            f"tests/integration/{module}/test_{module}.py": "test_workflow.py.tmpl",
        }


PACKAGE_DOCS = {
    "workflows": "The project's workflows: every module here with a `WORKFLOW` is one (`testbed deploy`, `run`).",
    "runs": "The runners of the project's workflows: `testbed run <workflow>` sends records and checks each one.",
    "fixtures": "The data generators of the project's workflows: seeded records with their expected outcomes.",
}


def default_root() -> Path:
    """The project `testbed` runs in (serverless_testbed.project), else the working directory:
    a new project's first workflow."""
    try:
        return find_root()
    except ProjectNotFound:
        return Path.cwd()


def project_layout(root: Path) -> tuple[ProjectConfig, bool]:
    """The packages the workflow goes into, and whether pyproject.toml must declare them
    (a project with no `[tool.testbed]` yet gets `ProjectConfig.default_for_new_project()`)."""
    if not root.is_dir():
        raise ScaffoldRefused(f"{root} is not a folder; pass --root with the project to add the workflow to")
    config = project_config(root)
    if config is not None:
        return config, False
    config = ProjectConfig.default_for_new_project()
    top = config.workflows.split(".")[0]
    if (root / top).exists():
        raise ScaffoldRefused(
            f"{root / top} exists already and pyproject.toml has no [tool.testbed]: declare where the workflows go, "
            'e.g. [tool.testbed] workflows = "mypkg.workflows", runs = "mypkg.runs", fixtures = "mypkg.fixtures"'
        )
    return config, True


def package_inits(root: Path, config: ProjectConfig) -> dict[str, str]:
    """The `__init__.py` files the declared packages lack, with a docstring each."""
    inits: dict[str, str] = {}
    for key in ProjectConfig.KEYS:
        parts = getattr(config, key).split(".")
        for depth in range(1, len(parts) + 1):
            path = "/".join([*parts[:depth], "__init__.py"])
            if not (root / path).exists() and path not in inits:
                doc = PACKAGE_DOCS[key] if depth == len(parts) else f"The project's testbed packages ({key} and more)."
                inits[path] = f'"""{doc}"""\n'
    return inits


def check_free(names: WorkflowNames, root: Path, config: ProjectConfig) -> None:
    """Refuse a name that is taken: a workflow, a resource of the stack, a file under `root`."""
    from serverless_testbed.registry import stack_for, workflows

    existing_workflows = workflows(root)
    if names.name in existing_workflows:
        raise ScaffoldRefused(f"a workflow named {names.name!r} exists already ({', '.join(existing_workflows)} do)")
    existing = {resource.name for resource in stack_for(root=root).resources} if existing_workflows else set()
    taken = sorted(f"{what} {logical}" for what, logical in names.resources.items() if logical in existing)
    if taken:
        raise ScaffoldRefused(
            f"workflow {names.name!r} would name its {', '.join(taken)}, which another workflow's resource is named"
        )
    present = [path for path in names.files(config) if (root / path).exists()]
    if present:
        raise ScaffoldRefused(
            f"workflow {names.name!r}: {', '.join(present)} exist(s) already under {root}; nothing was written"
        )
    tests = {Path(path).name for path in names.files(config) if path.startswith("tests/")}
    found = (root / "tests").rglob("test_*.py") if (root / "tests").is_dir() else []
    clashes = sorted(str(path.relative_to(root)) for path in found if path.name in tests)
    if clashes:
        raise ScaffoldRefused(
            f"workflow {names.name!r}: pytest needs test file names unique under tests/, and "
            f"{', '.join(clashes)} exist(s); choose another name"
        )


def declared_pyproject(root: Path, config: ProjectConfig) -> str:
    """pyproject.toml's text with `config` appended as its `[tool.testbed]` table."""
    path = root / PYPROJECT
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as err:
        raise ScaffoldRefused(f"{path} cannot be read ({err}); nothing was written") from err
    joined = (text.rstrip("\n") + "\n\n" if text.strip() else "") + config.toml()
    try:
        parsed = tomllib.loads(joined)
    except tomllib.TOMLDecodeError as err:
        raise ScaffoldRefused(
            f"{path} would not stay valid TOML with [tool.testbed] added ({err}); add it by hand"
        ) from err
    if parsed.get("tool", {}).get("testbed") != {key: getattr(config, key) for key in ProjectConfig.KEYS}:
        raise ScaffoldRefused(f"{path}: [tool.testbed] could not be added at its end; add it by hand")
    return joined


def scaffold_workflow(name: str, root: Path | None = None) -> list[Path]:
    """Write workflow `name` under `root` (default: the project `testbed` runs in, else the
    working directory); the files written, pyproject.toml included when it gained [tool.testbed].

    ScaffoldRefused, before anything is written, when the name or the root will not do.
    """
    names = WorkflowNames.of(name)
    root = (root or default_root()).resolve()
    config, declare = project_layout(root)
    check_free(names, root, config)
    values = names.values(config)
    rendered = {
        root / path: render(template_text(TEMPLATES, template), values, source=template)
        for path, template in names.files(config).items()
    }
    rendered.update({root / path: text for path, text in package_inits(root, config).items()})
    pyproject = root / PYPROJECT
    new_pyproject = declared_pyproject(root, config) if declare else None
    old_pyproject = pyproject.read_bytes() if declare and pyproject.exists() else None
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
        if new_pyproject is not None:
            partial = pyproject.with_name(f".{PYPROJECT}.testbed-new")
            partial.write_text(new_pyproject, encoding="utf-8")
            partial.replace(pyproject)  # whole or not at all
    except OSError as err:
        for path in reversed(written):
            path.unlink(missing_ok=True)
        for folder in reversed(made):
            folder.rmdir()
        pyproject.with_name(f".{PYPROJECT}.testbed-new").unlink(missing_ok=True)
        if old_pyproject is not None:
            pyproject.write_bytes(old_pyproject)
        raise ScaffoldFailed(f"workflow {name!r} not written ({err}); nothing of it is left under {root}") from err
    return [*written, *([pyproject] if new_pyproject is not None else [])]
