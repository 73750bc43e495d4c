"""Loading a Lambda folder's modules in unit tests (the folders under src/ are not packages):
`load("orders_check", "rules")` is the project's `src/orders_check/rules.py`."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

from serverless_testbed.project import src_dir


def load(function: str, module: str, src: Path | None = None) -> ModuleType:
    """`src/<function>/<module>.py` of the project (or of `src`) as Lambda imports it: its folder
    first on sys.path, and sibling modules (rules, parsing...) fresh, so folders with same-named
    modules do not mix."""
    folder = (src or src_dir()) / function
    siblings = {path.stem for path in folder.glob("*.py")}
    for name in siblings:
        sys.modules.pop(name, None)
    sys.path.insert(0, str(folder))
    try:
        spec = importlib.util.spec_from_file_location(f"{function}.{module}", folder / f"{module}.py")
        assert spec is not None
        assert spec.loader is not None
        loaded = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = loaded
        spec.loader.exec_module(loaded)
        return loaded
    finally:
        sys.path.remove(str(folder))
        for name in siblings:
            sys.modules.pop(name, None)
