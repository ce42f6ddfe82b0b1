"""The model registry: numbered versions, movable aliases, their history, and loading.

``ModelRegistry``, ``LoadedModel`` and ``current_user`` are loaded on first use: they
bring scikit-learn and skops, which the command line's parsing of a model reference
(``references``) has no need of.
"""

from __future__ import annotations

import typing

from shipyard.registry.references import DEFAULT_ALIAS, ModelRef, parse_model_ref

if typing.TYPE_CHECKING:
    from shipyard.registry.registry import LoadedModel, ModelRegistry, current_user

__all__ = [
    "DEFAULT_ALIAS",
    "LoadedModel",
    "ModelRef",
    "ModelRegistry",
    "current_user",
    "parse_model_ref",
]

_LAZY = {"LoadedModel", "ModelRegistry", "current_user"}


def __getattr__(name: str) -> typing.Any:
    if name in _LAZY:
        from shipyard.registry import registry

        value = getattr(registry, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'shipyard.registry' has no attribute {name!r}")
