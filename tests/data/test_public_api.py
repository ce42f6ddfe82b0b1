"""The names ``shipyard.data`` exports are exactly its modules' public names."""

from __future__ import annotations

import doctest
import importlib

import shipyard.data

MODULES = [
    "ingest",
    "partitions",
    "statistics",
    "schema",
    "validation",
    "drift",
    "skew",
    "transform",
    "feedback",
]
# Modules of the two subpackages whose docstrings hold examples.
EXAMPLE_MODULES = [*MODULES, "statistics.builder", "transform.learning"]


def test_every_public_name_is_exported_once() -> None:
    exported = shipyard.data.__all__
    assert len(exported) == len(set(exported))
    for module_name in MODULES:
        module = importlib.import_module(f"shipyard.data.{module_name}")
        for name in module.__all__:
            assert name in exported, f"{module_name}.{name} is not exported"
            assert getattr(shipyard.data, name) is getattr(module, name)


def test_exports_resolve() -> None:
    for name in shipyard.data.__all__:
        assert hasattr(shipyard.data, name), name


def test_docstring_examples_run() -> None:
    for module_name in EXAMPLE_MODULES:
        module = importlib.import_module(f"shipyard.data.{module_name}")
        assert doctest.testmod(module).failed == 0, module_name
