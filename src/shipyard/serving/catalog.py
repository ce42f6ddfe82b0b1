"""The models a server answers with, and how they follow the registry.

A ``ModelCatalog`` loads, for every registered model, the version its alias (by default
``production``) points at.  ``refresh`` polls the registry; when an alias has moved it
loads the new version first and then swaps it in with one assignment, so a request that
already holds the old version finishes on it and no request ever waits for a load.
``route`` is where a request learns which version answers it: one version today, a
choice among several (shadow, canary, blue-green) later.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from shipyard.errors import ModelNotFound
from shipyard.modeling.package import ModelPackage
from shipyard.project import Project
from shipyard.store.records import ModelVersionRecord

__all__ = ["ModelCatalog", "ServedModel"]


@dataclass(frozen=True)
class ServedModel:
    """One loaded model version and what the request path needs precomputed."""

    name: str
    version: int
    alias: str
    package: ModelPackage
    load_seconds: float
    required: frozenset[str]
    numeric_low: npt.NDArray[np.float64] = field(repr=False)
    numeric_high: npt.NDArray[np.float64] = field(repr=False)

    @classmethod
    def build(
        cls, name: str, version: int, alias: str, package: ModelPackage, load_seconds: float
    ) -> ServedModel:
        schema = package.schema
        inputs = set(package.input_columns)
        required = frozenset(c.name for c in schema.columns if c.required and c.name in inputs)
        transform = package.transform
        # Range bounds in the transform's scaled space: out-of-range values are counted
        # on the transformed block with two array comparisons.
        standard = transform.spec.scaling == "standard"
        low, high = [], []
        for column in transform.numeric_columns:
            center = transform.means[column] if standard else 0.0
            scale = transform.scales[column] if standard else 1.0
            expected = schema.column(column) if column in schema else None
            lower = expected.min if expected is not None and expected.min is not None else -math.inf
            upper = expected.max if expected is not None and expected.max is not None else math.inf
            low.append((lower - center) / scale)
            high.append((upper - center) / scale)
        return cls(
            name=name,
            version=version,
            alias=alias,
            package=package,
            load_seconds=load_seconds,
            required=required,
            numeric_low=np.array(low, dtype=np.float64),
            numeric_high=np.array(high, dtype=np.float64),
        )

    def out_of_range(self, features: npt.NDArray[np.float64]) -> dict[str, int]:
        """Per numeric column, how many values fall outside the schema's range."""
        count = len(self.numeric_low)
        if count == 0:
            return {}
        block = features[:, :count]
        outside = (block < self.numeric_low) | (block > self.numeric_high)
        if not outside.any():
            return {}
        outside = outside.sum(axis=0)
        columns = self.package.transform.numeric_columns
        return {columns[i]: int(n) for i, n in enumerate(outside.tolist()) if n}

    def metadata(self) -> dict[str, Any]:
        """The Open Inference Protocol's model metadata: inputs, outputs, parameters."""
        types = {"int": "INT64", "float": "FP64", "bool": "BOOL", "str": "BYTES"}
        inputs = [
            {"name": column, "datatype": types[kind], "shape": [-1],
             "parameters": {"required": column in self.required}}
            for column, kind in self.input_types().items()
        ]  # fmt: skip
        task = self.package.task
        outputs = [
            {
                "name": "predict",
                "datatype": "FP64" if task == "regression" else "BYTES",
                "shape": [-1],
            }
        ]
        if task == "classification":
            classes = len(self.package.classes or [])
            outputs.append({"name": "predict_proba", "datatype": "FP64", "shape": [-1, classes]})
        return {
            "name": self.name,
            "versions": [str(self.version)],
            "platform": "shipyard",
            "inputs": inputs,
            "outputs": outputs,
            "parameters": {"alias": self.alias, "task": task},
        }

    def input_types(self) -> dict[str, str]:
        """Each input column's type in the schema (``int``, ``float``, ``bool``, ``str``)."""
        schema = self.package.schema
        return {
            column: schema.column(column).type if column in schema else "str"
            for column in self.package.input_columns
        }


class ModelCatalog:
    """The versions a server answers with, kept in step with the registry."""

    def __init__(self, project: Project, *, alias: str = "production") -> None:
        self.project = project
        self.alias = alias
        self._models: dict[str, ServedModel] = {}
        self._records: dict[tuple[str, int], ModelVersionRecord] = {}
        self.ready = False
        self.default_name = project.config.model_name if project.config.data else None

    @property
    def models(self) -> dict[str, ServedModel]:
        return self._models

    def _targets(self) -> dict[str, int]:
        return {
            model.name: model.aliases[self.alias]
            for model in self.project.registry.models()
            if self.alias in model.aliases
        }

    def _load(self, name: str, version: int) -> ServedModel:
        started = time.perf_counter()
        # Pinned: the registry's cache never drops a version while it is served here.
        loaded = self.project.registry.load(f"{name}:{version}", pin=True)
        try:
            package = loaded.package
            package.predict_rows([{}])  # build the row plans and warm the predictor now
            served = ServedModel.build(
                name, version, self.alias, package, time.perf_counter() - started
            )
        except BaseException:
            self.project.registry.unpin(loaded.record)
            raise
        self._records[name, version] = loaded.record
        return served

    def _unpin(self, served: ServedModel) -> None:
        record = self._records.pop((served.name, served.version), None)
        if record is not None:
            self.project.registry.unpin(record)

    def refresh(self) -> list[ServedModel]:
        """Load what the registry's aliases point at now; returns the newly loaded."""
        targets = self._targets()
        current = self._models
        loaded: list[ServedModel] = []
        try:
            for name, version in targets.items():
                if name not in current or current[name].version != version:
                    loaded.append(self._load(name, version))
        except BaseException:
            for served in loaded:  # none of them will be served
                self._unpin(served)
            raise
        if loaded or set(current) != set(targets):
            models = {name: current[name] for name in targets if name in current}
            models.update({served.name: served for served in loaded})
            self._models = models  # one assignment: requests see the old or the new
            for name, served in current.items():
                if models.get(name) is not served:
                    self._unpin(served)
        self.ready = True
        return loaded

    def route(self, name: str | None) -> ServedModel:
        """The version that answers a request for model ``name`` (None: the default)."""
        models = self._models
        if name is None:
            if self.default_name is not None and self.default_name in models:
                return models[self.default_name]
            if len(models) == 1:
                return next(iter(models.values()))
            served = ", ".join(sorted(models)) or "none"
            raise ModelNotFound(
                f"no default model to answer /predict (served: {served}); use "
                "POST /v2/models/{name}/predict"
            )
        served_model = models.get(name)
        if served_model is None:
            served = ", ".join(sorted(models)) or "none"
            raise ModelNotFound(
                f"model '{name}' is not served here (no '{self.alias}' alias); served: {served}"
            )
        return served_model

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"name": m.name, "version": m.version, "alias": m.alias} for m in self._models.values()
        ]
