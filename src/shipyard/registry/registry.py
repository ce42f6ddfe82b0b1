"""The model registry: versions, aliases and the rules for moving them.

>>> registry = ModelRegistry(project.store, project.artifacts)  # doctest: +SKIP
>>> model = registry.load("ames@production")  # doctest: +SKIP
>>> model.predict(frame)  # doctest: +SKIP
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shipyard.errors import RegistryError
from shipyard.registry.cache import PackageCache
from shipyard.registry.references import ModelRef, parse_model_ref
from shipyard.store.records import AliasEventRecord, ModelRecord, ModelVersionRecord

if TYPE_CHECKING:
    # A model's package brings scikit-learn and pandas: imported when one is loaded, so
    # that listing models, versions and aliases stays light.
    import pandas as pd

    from shipyard.artifacts import ArtifactStore
    from shipyard.modeling.package import ModelPackage, Predictions
    from shipyard.store import MetadataStore

__all__ = ["LoadedModel", "ModelRegistry", "current_user"]


def current_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class LoadedModel:
    """A registered version, loaded and ready to predict."""

    record: ModelVersionRecord
    package: ModelPackage

    @property
    def name(self) -> str:
        return self.record.model

    @property
    def version(self) -> int:
        return self.record.version

    def predict(self, frame: pd.DataFrame) -> Predictions:
        """Predict every row of ``frame`` through the model's own transform."""
        return self.package.predict_frame(frame)


class ModelRegistry:
    """Registered models of one project."""

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        *,
        cache_versions: int = 4,
        cache_bytes: int = 2 * 1024**3,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.loaded: PackageCache[ModelPackage] = PackageCache(
            max_versions=cache_versions, max_bytes=cache_bytes
        )

    def models(self) -> list[ModelRecord]:
        return self.store.models.list_models()

    def versions(
        self, name: str, *, limit: int | None = None, before: int | None = None
    ) -> list[ModelVersionRecord]:
        """Versions of ``name``, newest first (``limit`` of them below ``before``: a page)."""
        return self.store.models.versions(name, limit=limit, before=before)

    def history(self, name: str) -> list[AliasEventRecord]:
        return self.store.models.alias_history(name)

    def resolve(self, ref: str | ModelRef) -> ModelVersionRecord:
        """The version a reference names (a bare name means its ``production`` alias)."""
        parsed = parse_model_ref(ref) if isinstance(ref, str) else ref
        if parsed.version is not None:
            return self.store.models.version(parsed.name, parsed.version)
        assert parsed.alias is not None
        return self.store.models.by_alias(parsed.name, parsed.alias)

    def find(self, name: str, alias: str) -> ModelVersionRecord | None:
        """The version ``alias`` points at, or ``None`` when the model or alias is absent."""
        if not any(model.name == name for model in self.models()):
            return None
        try:
            return self.store.models.by_alias(name, alias)
        except RegistryError:
            return None

    def register(
        self,
        name: str,
        *,
        package_id: int,
        run_id: int | None = None,
        dataset_version_id: int | None = None,
        blessed: bool = False,
        infra_validated: bool = False,
        metrics: Mapping[str, Any] | None = None,
        reasons: Mapping[str, Any] | None = None,
        code_version: str | None = None,
    ) -> ModelVersionRecord:
        """Register a package as the next version of ``name``."""
        return self.store.models.register_version(
            name,
            package_id=package_id,
            run_id=run_id,
            dataset_version_id=dataset_version_id,
            blessed=blessed,
            infra_validated=infra_validated,
            metrics=metrics or {},
            reasons=reasons or {},
            code_version=code_version,
        )

    def promote(
        self,
        name: str,
        version: int,
        *,
        alias: str = "production",
        actor: str | None = None,
        reason: str = "",
    ) -> AliasEventRecord | None:
        """Move ``alias`` to ``version``; the move is kept in the alias history."""
        return self.store.models.move_alias(
            name, alias, version, actor=actor or current_user(), reason=reason
        )

    def tag(self, name: str, version: int, tags: Mapping[str, Any]) -> None:
        self.store.models.set_tags(name, version, tags)

    def load(self, ref: str | ModelRef | ModelVersionRecord, *, pin: bool = False) -> LoadedModel:
        """Load a registered version; its package is verified against its digest.

        Loaded packages are kept for the next load, within the cache's bounds; ``pin``
        keeps this one until ``unpin`` (a server pins the versions it serves).
        """
        record = ref if isinstance(ref, ModelVersionRecord) else self.resolve(ref)
        digest = record.package.digest
        if pin:
            self.loaded.pin(digest)
        package = self.loaded.get(digest)
        if package is None:
            from shipyard.modeling.package import ModelPackage

            try:
                package = ModelPackage.load(self.artifacts.materialize(digest, "dir"))
            except BaseException:
                if pin:
                    self.loaded.unpin(digest)
                raise
            self.loaded.put(digest, package, size=record.package.size)
        return LoadedModel(record=record, package=package)

    def unpin(self, record: ModelVersionRecord) -> None:
        """Let a version loaded with ``pin=True`` leave the cache again."""
        self.loaded.unpin(record.package.digest)
