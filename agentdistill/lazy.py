"""Lazy package exports: ``from agentdistill.tasks import score`` without importing every module first.

Packages list their public names and the module each lives in; the module is imported on first access,
so ``agentdistill --help`` does not pay for math-verify, faiss or matplotlib.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``exports[name]`` (a module path) and returns its ``name``."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
