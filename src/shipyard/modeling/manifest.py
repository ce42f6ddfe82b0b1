"""A model package's manifest: what the package holds, readable without loading it.

Reading the manifest needs no machine-learning library, so a process that only asks what
a package expects (its input columns, its task) does not pay for importing them.  The
rules of what a package may ask to trust live here too: they are part of what a manifest
may say.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from shipyard.config import Task
from shipyard.errors import ArtifactCorrupted, ArtifactError

__all__ = ["MANIFEST", "PackageManifest", "read_manifest", "refused_types"]

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
TRUSTED_MODULES = ("sklearn.", "numpy.", "scipy.")
# Beyond those modules, these types only: a booster's state is the library's own model
# format, read by its native code; other types of these libraries (callbacks, trackers,
# distributed helpers) have no place in a fitted model.
TRUSTED_TYPES = frozenset(
    {
        "collections.OrderedDict",
        "lightgbm.basic.Booster",
        "lightgbm.sklearn.LGBMClassifier",
        "lightgbm.sklearn.LGBMRegressor",
        "xgboost.core.Booster",
        "xgboost.sklearn.XGBClassifier",
        "xgboost.sklearn.XGBRegressor",
    }
)


def refused_types(types: Sequence[str]) -> list[str]:
    """The types among ``types`` that shipyard will not trust when loading."""
    return [t for t in types if not (t.startswith(TRUSTED_MODULES) or t in TRUSTED_TYPES)]


@dataclass(frozen=True)
class PackageManifest:
    task: Task
    target: str
    input_columns: list[str]
    classes: list[Any] | None
    estimator: str
    params: dict[str, Any]
    trusted_types: list[str]
    format: int = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2, sort_keys=True))


def read_manifest(folder: Path) -> PackageManifest:
    """The manifest of the package in ``folder``; a missing, foreign or unsafe one is an
    ``ArtifactError``."""
    try:
        manifest = PackageManifest(**json.loads((folder / MANIFEST).read_text()))
    except (OSError, ValueError, TypeError) as exc:
        raise ArtifactError(f"cannot load the model package in {folder}: {exc}") from exc
    if manifest.format != FORMAT_VERSION:
        raise ArtifactError(
            f"model package format {manifest.format} is not {FORMAT_VERSION}; "
            "retrain the model with this version of shipyard"
        )
    refused = refused_types(manifest.trusted_types)
    if refused:
        raise ArtifactCorrupted(
            f"model package {folder} asks to trust {refused}; refusing to load it",
            digest="",
            actual="",
        )
    return manifest
