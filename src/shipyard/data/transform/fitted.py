"""The fitted transform: learned state, the frame path, and persistence."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import ValidationError

from shipyard.data.transform.columnar import (
    Column,
    ColumnsPlan,
    build_columns_plan,
    transform_columns,
    transform_records,
)
from shipyard.data.transform.columns import require_columns, require_frame
from shipyard.data.transform.derive import DeriveFunction, apply_derive, load_derive
from shipyard.data.transform.formatting import FORMAT, FORMAT_VERSION, TransformDocument
from shipyard.data.transform.rows import RowsPlan, build_rows_plan, transform_rows
from shipyard.data.transform.spec import TransformSpec
from shipyard.data.transform.stats import TransformStats, add_stats
from shipyard.data.transform.values import factorize_categories, not_a_mapping, numeric_values
from shipyard.errors import DataError, InvalidRequest, SchemaMismatch

__all__ = ["OTHER", "FittedTransform"]

OTHER = "<other>"


class FittedTransform:
    """Preprocessing learned on a training split, applied the same way everywhere.

    Learned state: ``medians``, ``means`` and ``scales`` (population standard deviation,
    1.0 for a constant column) of each numeric column, ``vocabularies`` of each categorical
    column, and the resulting ``feature_names``.  Output columns are the numeric columns in
    order, then each categorical column's block.
    """

    def __init__(
        self,
        *,
        spec: TransformSpec,
        input_columns: tuple[str, ...],
        numeric_columns: tuple[str, ...],
        categorical_columns: tuple[str, ...],
        medians: dict[str, float],
        means: dict[str, float],
        scales: dict[str, float],
        vocabularies: dict[str, tuple[str, ...]],
    ) -> None:
        self.spec = spec
        self.input_columns = input_columns
        self.numeric_columns = numeric_columns
        self.categorical_columns = categorical_columns
        self.medians = medians
        self.means = means
        self.scales = scales
        self.vocabularies = vocabularies
        self._plan: RowsPlan | None = None
        self._columns_plan: ColumnsPlan | None = None
        self._derive: DeriveFunction | None = None

    def __repr__(self) -> str:
        return (
            f"FittedTransform({len(self.numeric_columns)} numeric, "
            f"{len(self.categorical_columns)} categorical -> {self.n_features} features)"
        )

    @property
    def feature_names(self) -> tuple[str, ...]:
        """Names of the output columns, e.g. ``Lot_Area`` or ``Neighborhood=Gilbert``."""
        names = list(self.numeric_columns)
        for column in self.categorical_columns:
            if self.spec.encoding == "onehot":
                names.extend(f"{column}={value}" for value in self.vocabularies[column])
                names.append(f"{column}={OTHER}")
            else:
                names.append(column)
        return tuple(names)

    @property
    def n_features(self) -> int:
        """Width of the arrays the transform produces."""
        if self.spec.encoding == "onehot":
            blocks = sum(len(self.vocabularies[c]) + 1 for c in self.categorical_columns)
        else:
            blocks = len(self.categorical_columns)
        return len(self.numeric_columns) + blocks

    def _numeric_parameters(self) -> tuple[list[float], list[float], list[float]]:
        """Per numeric column: the imputed value, the center and the scale to apply."""
        fills = self.medians if self.spec.impute == "median" else self.means
        standard = self.spec.scaling == "standard"
        columns = self.numeric_columns
        centers = [self.means[c] if standard else 0.0 for c in columns]
        scales = [self.scales[c] if standard else 1.0 for c in columns]
        return [fills[c] for c in columns], centers, scales

    # -- frames: training, evaluation, batch prediction ---------------------------------

    def transform_frame(
        self, frame: pd.DataFrame, *, stats: TransformStats | None = None
    ) -> np.ndarray:
        """Apply the transform to a DataFrame; returns a float64 array (rows, features)."""
        require_frame(frame)
        if self.spec.derive is not None:
            frame = apply_derive(self._derive_function(), self.spec.derive, frame)
        require_columns(frame, self.numeric_columns + self.categorical_columns)
        rows = len(frame)
        out = np.zeros((rows, self.n_features), dtype=np.float64)
        missing_counts: Counter[str] = Counter()
        unseen_counts: Counter[str] = Counter()

        k = len(self.numeric_columns)
        if k:
            block = np.empty((rows, k), dtype=np.float64)
            for j, column in enumerate(self.numeric_columns):
                block[:, j] = numeric_values(frame[column], column)
            absent = np.isnan(block)
            fills, centers, scales = self._numeric_parameters()
            np.copyto(block, np.array([fills]), where=absent)
            # The same two IEEE operations as the rows path, so results match bit for bit.
            out[:, :k] = (block - np.array([centers])) / np.array([scales])
            missing_counts.update(
                dict(zip(self.numeric_columns, absent.sum(axis=0).tolist(), strict=True))
            )

        onehot = self.spec.encoding == "onehot"
        # One-hot: the output position of each row's 1.0 per column (-1: missing), written
        # in one pass at the end, row by row, which keeps wide outputs in cache.
        hot = np.empty((rows, len(self.categorical_columns) if onehot else 0), dtype=np.intp)
        position = k
        for j, column in enumerate(self.categorical_columns):
            vocabulary = self.vocabularies[column]
            other = len(vocabulary)
            keys, codes = factorize_categories(frame[column], column)
            # Look each distinct key up once, the way the rows path does, then spread the
            # result over the rows; the extra -1 at the end serves missing cells (code -1).
            lookup = {value: code for code, value in enumerate(vocabulary)}
            found = [-1 if key is None else lookup.get(key, other) for key in keys]
            codes = np.array([*found, -1], dtype=np.intp)[codes]
            missing = codes < 0
            missing_counts[column] += int(missing.sum())
            unseen_counts[column] += int((codes == other).sum())
            if onehot:
                hot[:, j] = np.where(missing, -1, position + codes)
                position += other + 1
            else:
                out[:, position] = codes  # -1 for missing, len(vocabulary) for <other>
                position += 1
        if hot.size:
            present = hot >= 0
            cells = hot + (np.arange(rows, dtype=np.intp) * out.shape[1])[:, np.newaxis]
            out.reshape(-1)[cells[present]] = 1.0

        if stats is not None:
            add_stats(stats, rows, missing_counts, unseen_counts)
        return out

    # -- rows: the prediction server ------------------------------------------------------

    def transform_rows(
        self, rows: Sequence[Mapping[str, Any]], *, stats: TransformStats | None = None
    ) -> np.ndarray:
        """Apply the transform to request rows (column -> JSON value) without pandas.

        Gives exactly what ``transform_frame`` gives for the same values.  With a
        ``derive`` function the rows go through a DataFrame and ``transform_frame``.
        """
        if self.spec.derive is not None:
            return self._transform_rows_as_frame(rows, stats)
        return transform_rows(self._rows_plan(), rows, stats=stats)

    def transform_batch(
        self, rows: Sequence[Mapping[str, Any]], *, stats: TransformStats | None = None
    ) -> np.ndarray:
        """``transform_rows``, the quickest way: a single row as it is, several rows of
        dicts with numpy (``transform_records``), which gives the same."""
        if (
            len(rows) == 1
            or self.spec.derive is not None
            or not all(type(row) is dict for row in rows)
        ):
            return self.transform_rows(rows, stats=stats)
        return transform_records(self._plan_for_columns(), rows, stats=stats)

    def transform_columns(
        self, columns: Mapping[str, Column], rows: int, *, stats: TransformStats | None = None
    ) -> np.ndarray:
        """Apply the transform to ``rows`` request rows given as columns (column name ->
        numpy array or list of JSON values; a column left out is missing in every row).

        Gives exactly what ``transform_rows`` gives for the same rows: the same array,
        the same ``InvalidRequest`` for the first refused cell, the same stats; faster
        from a few rows on.
        """
        if self.spec.derive is not None:
            listed = {name: list(values) for name, values in columns.items()}
            as_rows = [{name: values[i] for name, values in listed.items()} for i in range(rows)]
            return self._transform_rows_as_frame(as_rows, stats)
        return transform_columns(self._plan_for_columns(), columns, rows, stats=stats)

    def _plan_for_columns(self) -> ColumnsPlan:
        if self._columns_plan is None:
            self._columns_plan = build_columns_plan(self._rows_plan())
        return self._columns_plan

    def _rows_plan(self) -> RowsPlan:
        if self._plan is None:
            fills, centers, scales = self._numeric_parameters()
            self._plan = build_rows_plan(
                numeric=[
                    (column, centers[j], scales[j], fills[j])
                    for j, column in enumerate(self.numeric_columns)
                ],
                vocabularies=[(c, self.vocabularies[c]) for c in self.categorical_columns],
                onehot=self.spec.encoding == "onehot",
                width=self.n_features,
            )
        return self._plan

    def _transform_rows_as_frame(
        self, rows: Sequence[Mapping[str, Any]], stats: TransformStats | None
    ) -> np.ndarray:
        self._derive_function()  # a missing function is the server's problem, not the client's
        columns = self.input_columns
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise not_a_mapping(i, row)
        frame = pd.DataFrame([[row.get(c) for c in columns] for row in rows], columns=columns)
        try:
            return self.transform_frame(frame, stats=stats)
        except DataError as exc:  # the rows path speaks to clients: report a bad request
            field = exc.column if isinstance(exc, SchemaMismatch) else None
            raise InvalidRequest(str(exc), field=field) from exc

    def _derive_function(self) -> DeriveFunction:
        # Imported on first use, never when the transform is loaded from JSON.
        if self._derive is None:
            assert self.spec.derive is not None
            self._derive = load_derive(self.spec.derive)
        return self._derive

    # -- persistence ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The transform as plain JSON-compatible data, for storing as an artifact."""
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "spec": self.spec.model_dump(mode="json"),
            "input_columns": list(self.input_columns),
            "numeric_columns": list(self.numeric_columns),
            "categorical_columns": list(self.categorical_columns),
            "medians": dict(self.medians),
            "means": dict(self.means),
            "scales": dict(self.scales),
            "vocabularies": {c: list(v) for c, v in self.vocabularies.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FittedTransform:
        """Load a transform written by ``to_dict``; validates it and runs no code."""
        try:
            document = TransformDocument.model_validate(data)
        except ValidationError as exc:
            problems = []
            for error in exc.errors():
                where = ".".join(str(part) for part in error["loc"]) or "(top level)"
                problems.append(f"field '{where}': {error['msg']}")
            raise DataError("the stored transform is invalid: " + "; ".join(problems)) from exc
        return cls(
            spec=document.spec,
            input_columns=document.input_columns,
            numeric_columns=document.numeric_columns,
            categorical_columns=document.categorical_columns,
            medians=document.medians,
            means=document.means,
            scales=document.scales,
            vocabularies=document.vocabularies,
        )
