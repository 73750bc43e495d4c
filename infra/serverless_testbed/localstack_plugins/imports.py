"""Patching a LocalStack module when it is first imported, not before.

LocalStack loads a service's modules on the service's first request; importing them in
an on_infra_start hook only to patch them would put that import on the engine's start.

One finder, put first on `sys.meta_path` once and never removed, holds the patches still
waiting for their module. It must never take itself off the list while imports run: the
import system walks `sys.meta_path` as it stands, so a finder removing itself shifts the
list under every other thread's walk, which then skips the finder after it, sometimes
Python's own PathFinder, and a module that exists fails with "No module named ..." (seen
as `localstack.services.sns.provider` under concurrent first requests).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
import threading
from collections.abc import Callable, Sequence
from types import ModuleType

Patch = Callable[[ModuleType], None]


class _PatchOnImport(importlib.abc.MetaPathFinder):
    """Wraps the loader of each awaited module so its patch runs right after it executes."""

    def __init__(self) -> None:
        self.waiting: dict[str, list[Patch]] = {}
        self.lock = threading.Lock()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.waiting:  # unlocked look first: every import of the process passes here
            return None
        with self.lock:
            patches = self.waiting.pop(fullname, None)
        if not patches:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        original = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            original(module)
            for patch in patches:
                patch(module)

        loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


_FINDER = _PatchOnImport()


def after_import(name: str, patch: Patch) -> None:
    """Run `patch(module)` once module `name` is imported (at once if it already is)."""
    with _FINDER.lock:
        if name not in sys.modules:
            _FINDER.waiting.setdefault(name, []).append(patch)
            if _FINDER not in sys.meta_path:
                sys.meta_path.insert(0, _FINDER)  # an insert only makes a concurrent walk ask one finder twice
            return
    patch(sys.modules[name])
