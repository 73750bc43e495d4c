"""Patch-on-import (localstack_plugins/imports.py) never takes a finder off sys.meta_path while
imports run: a walk of the list that another import shortens skips a finder, sometimes
Python's PathFinder, and then a module that exists is "not found"."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import textwrap
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import pytest
from serverless_testbed.localstack_plugins import imports


class ImportsMidWalk(importlib.abc.MetaPathFinder):
    """Asked about `trigger`, imports `patched` first: as another thread's import would, while
    the walk for `trigger` is at this finder."""

    def __init__(self, trigger: str, patched: str) -> None:
        self.trigger, self.patched = trigger, patched

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname == self.trigger:
            importlib.import_module(self.patched)
        return None


@pytest.fixture
def modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("tb_probe_patched", "tb_probe_trigger"):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(f'NAME = "{name}"\n'))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    monkeypatch.setattr(imports, "_FINDER", imports._PatchOnImport())
    yield tmp_path
    for name in ("tb_probe_patched", "tb_probe_trigger"):
        sys.modules.pop(name, None)


def test_a_patch_applied_during_another_import_does_not_hide_a_module(modules: Path):
    patched: list[str] = []
    imports.after_import("tb_probe_patched", lambda module: patched.append(module.NAME))
    # The walk for the trigger reaches this finder just before Python's PathFinder, which must
    # still be asked after the patch finder has done its work.
    where = next(i for i, finder in enumerate(sys.meta_path) if finder is importlib.machinery.PathFinder)
    sys.meta_path.insert(where, ImportsMidWalk("tb_probe_trigger", "tb_probe_patched"))
    trigger = importlib.import_module("tb_probe_trigger")
    assert trigger.NAME == "tb_probe_trigger"
    assert patched == ["tb_probe_patched"]


def test_a_patch_runs_once_and_at_once_for_a_module_already_imported(modules: Path):
    seen: list[str] = []
    imports.after_import("tb_probe_patched", lambda module: seen.append("first"))
    imports.after_import("tb_probe_patched", lambda module: seen.append("second"))
    importlib.import_module("tb_probe_patched")
    importlib.reload(sys.modules["tb_probe_patched"])
    assert seen == ["first", "second"]
    imports.after_import("tb_probe_patched", lambda module: seen.append("late"))
    assert seen == ["first", "second", "late"]
