"""Filling the scaffold's templates: `string.Template` with `@@{name}` placeholders.

The templates are ASL and Python, where `$` is everywhere (JSONPath, `${Placeholder}`
of the deployer), so the placeholders take a delimiter neither uses: `@@{module}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from string import Template

from serverless_testbed.errors import TestbedError


class ScaffoldTemplate(Template):
    """A template whose placeholders are `@@{name}` (or `@@name`)."""

    delimiter = "@@"


class TemplateError(TestbedError):
    """A template names a value the scaffold does not give, or is malformed."""


def template_text(group: str, name: str) -> str:
    """The text of `templates/<group>/<name>`, read from the installed package."""
    return resources.files("serverless_testbed.scaffold").joinpath("templates", group, name).read_text(encoding="utf-8")


def render(text: str, values: Mapping[str, str], *, source: str = "template") -> str:
    """`text` with every placeholder filled from `values`; TemplateError names what is missing."""
    try:
        return ScaffoldTemplate(text).substitute(values)
    except KeyError as err:
        raise TemplateError(f"{source}: no value for placeholder @@{{{err.args[0]}}}") from err
    except ValueError as err:
        raise TemplateError(f"{source}: {err}") from err
