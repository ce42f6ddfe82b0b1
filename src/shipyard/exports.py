"""Public names a package exports but imports only when they are first used.

A package whose modules bring heavy libraries (pandas, scikit-learn, SQLAlchemy's ORM)
lists which module holds each name, and sets ``__getattr__ = lazy_exports(__name__,
{name: module})``: ``from package import name`` then imports that module on first use
and keeps the value in the package, so a command that never uses it never pays for it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["by_module", "lazy_exports"]


def by_module(modules: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """``{module: names}`` turned round: each name to the module that holds it."""
    return {name: module for module, names in modules.items() for name in names}


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package`` that imports ``exports[name]`` to answer
    ``name``, once."""

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
