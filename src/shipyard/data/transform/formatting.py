"""The stored form of a ``FittedTransform``: a validated JSON document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from shipyard.data.transform.spec import TransformSpec

__all__ = ["FORMAT", "FORMAT_VERSION", "TransformDocument"]

FORMAT = "shipyard.transform"
FORMAT_VERSION = 1


class TransformDocument(BaseModel):
    """The persisted form of a ``FittedTransform`` (format version 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    format: Literal["shipyard.transform"]
    format_version: Literal[1]
    spec: TransformSpec
    input_columns: tuple[str, ...]
    numeric_columns: tuple[str, ...]
    categorical_columns: tuple[str, ...]
    medians: dict[str, float]
    means: dict[str, float]
    scales: dict[str, float]
    vocabularies: dict[str, tuple[str, ...]]

    @model_validator(mode="after")
    def _consistent(self) -> TransformDocument:
        for column in self.numeric_columns:
            for name, table in (("medians", self.medians), ("means", self.means)):
                if column not in table:
                    raise ValueError(f"{name} has no entry for column {column!r}")
            if not self.scales.get(column, 0.0) > 0.0:
                raise ValueError(f"scales needs a positive entry for column {column!r}")
        for column in self.categorical_columns:
            vocabulary = self.vocabularies.get(column)
            if vocabulary is None:
                raise ValueError(f"vocabularies has no entry for column {column!r}")
            if len(set(vocabulary)) != len(vocabulary):
                raise ValueError(f"the vocabulary of column {column!r} repeats a value")
        features = self.numeric_columns + self.categorical_columns
        if len(set(features)) != len(features):
            raise ValueError("a column is listed as both numeric and categorical")
        if self.spec.derive is None and set(features) - set(self.input_columns):
            raise ValueError("input_columns must hold every numeric and categorical column")
        return self
