"""The model registry: numbered versions, movable aliases, their history, and loading."""

from shipyard.registry.references import DEFAULT_ALIAS, ModelRef, parse_model_ref
from shipyard.registry.registry import LoadedModel, ModelRegistry, current_user

__all__ = [
    "DEFAULT_ALIAS",
    "LoadedModel",
    "ModelRef",
    "ModelRegistry",
    "current_user",
    "parse_model_ref",
]
