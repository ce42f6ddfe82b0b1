"""The fitted preprocessing that training and serving share.

The Transform step learns a ``FittedTransform`` on the training split (medians and means
for imputation, scales for standardisation, vocabularies for categories) and every later
consumer applies that one object: Trainer, Evaluator and batch prediction through
``transform_frame``, the prediction server through ``transform_rows``.  Both paths give
bitwise-identical arrays for the same input, so there is no training/serving skew.

>>> frame = pd.DataFrame({"area": [50.0, 70.0, None], "city": ["a", "b", "a"]})
>>> fitted = Transform(TransformSpec()).fit(frame)
>>> fitted.feature_names
('area', 'city=a', 'city=b', 'city=<other>')
>>> fitted.transform_rows([{"area": 60, "city": "c"}])
array([[0., 0., 0., 1.]])

Input rules, the same on both paths:

- A numeric column takes numbers.  Missing values (``None``, NaN, a key left out of a
  row) are imputed with the learned median (or mean).  Booleans, infinities and text are
  refused, numeric text such as ``"12.5"`` included: clients send numbers as JSON numbers.
- A categorical column takes text.  Integers, booleans and floats are compared by their
  text (``20`` and ``20.0`` as ``"20"``, ``True`` as ``"True"``).  A value outside the
  vocabulary goes to the column's ``<other>`` bucket; a missing value leaves the column's
  one-hot block all zero (ordinal code -1).  Lists, dicts and other objects are refused.
- Columns the transform does not use are ignored.  A frame must have every input column;
  a row may leave keys out.

Frames are refused with ``SchemaMismatch`` and rows with ``InvalidRequest``; both name the
column and the reason.
"""

from __future__ import annotations

import importlib
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shipyard.config import Encoding, Impute, Scaling
from shipyard.errors import DataError, InvalidRequest, SchemaMismatch

__all__ = [
    "FittedTransform",
    "Transform",
    "TransformSpec",
    "TransformStats",
    "fit_transform_spec",
]

FORMAT = "shipyard.transform"
FORMAT_VERSION = 1
OTHER = "<other>"

DeriveFunction = Callable[[pd.DataFrame], pd.DataFrame]


class TransformSpec(BaseModel):
    """What the Transform step learns: which columns, and how to impute, scale and encode.

    ``numeric`` and ``categorical`` left as ``None`` are inferred from the training frame's
    dtypes (numbers are numeric; text, booleans and pandas categoricals are categorical);
    a list given is taken as complete.  Put the label and identifier columns in ``drop``.
    ``derive`` names a function ``"package.module:function"`` that takes a DataFrame and
    returns it with extra columns; it runs before everything else, on training frames and
    on request rows alike, and must compute each row from that row alone.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    numeric: tuple[str, ...] | None = Field(default=None, description="Numeric columns.")
    categorical: tuple[str, ...] | None = Field(default=None, description="Text columns.")
    drop: tuple[str, ...] = Field(default=(), description="Columns never used as features.")
    impute: Impute = "median"
    scaling: Scaling = "standard"
    encoding: Encoding = "onehot"
    max_categories: int = Field(
        default=50, ge=1, description="Most frequent categories kept per column."
    )
    derive: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*$",
        description="Function adding derived columns, as 'module:function'.",
    )

    @model_validator(mode="after")
    def _columns_claimed_once(self) -> TransformSpec:
        seen: set[str] = set()
        for group in (self.numeric or (), self.categorical or (), self.drop):
            for column in group:
                if column in seen:
                    raise ValueError(f"column {column!r} is listed twice")
                seen.add(column)
        return self


@dataclass
class TransformStats:
    """Per-column counts of values the transform had to repair, for monitoring.

    Pass one to ``transform_rows`` or ``transform_frame`` and they add to it, only when
    the whole call succeeds.  ``unseen`` counts categories outside the vocabulary (never
    seen in training, or too rare to be kept); ``missing`` counts imputed values.
    """

    rows: int = 0
    missing: Counter[str] = field(default_factory=Counter)
    unseen: Counter[str] = field(default_factory=Counter)


class Transform:
    """Learns a ``FittedTransform`` from a training frame; the constructor only stores."""

    def __init__(self, spec: TransformSpec | None = None) -> None:
        self.spec = spec if spec is not None else TransformSpec()

    def fit(self, frame: pd.DataFrame) -> FittedTransform:
        """Learn imputation values, scales and vocabularies from ``frame`` (training only)."""
        spec = self.spec
        _require_frame(frame)
        if len(frame) == 0:
            raise DataError("cannot fit a transform on an empty frame")
        source = frame
        if spec.derive is not None:
            _check_column_names(frame)
            source = _apply_derive(_load_derive(spec.derive), spec.derive, frame)
        numeric, categorical = _choose_columns(source, spec)
        medians: dict[str, float] = {}
        means: dict[str, float] = {}
        scales: dict[str, float] = {}
        for column in numeric:
            values = _numeric_values(source[column], column)
            medians[column], means[column], scales[column] = _numeric_statistics(values, column)
        vocabularies = {
            column: _vocabulary(source[column], column, spec.max_categories)
            for column in categorical
        }
        if spec.derive is not None:
            dropped = set(spec.drop)
            input_columns = tuple(c for c in frame.columns if c not in dropped)
        else:
            input_columns = numeric + categorical
        return FittedTransform(
            spec=spec,
            input_columns=input_columns,
            numeric_columns=numeric,
            categorical_columns=categorical,
            medians=medians,
            means=means,
            scales=scales,
            vocabularies=vocabularies,
        )


def _numeric_statistics(values: np.ndarray, column: str) -> tuple[float, float, float]:
    """Median, mean and scale of the observed values (NaN is missing)."""
    observed = values[~np.isnan(values)]
    if observed.size == 0:  # nothing to learn from: impute zero, leave unscaled
        return 0.0, 0.0, 1.0
    mean, std = float(observed.mean()), float(observed.std())
    if not (math.isfinite(mean) and math.isfinite(std)):
        raise DataError(f"column {column!r} holds values too large to scale")
    return float(np.median(observed)), mean, std if std > 0.0 else 1.0


def _vocabulary(series: pd.Series, column: str, max_categories: int) -> tuple[str, ...]:
    """The ``max_categories`` most frequent keys (ties broken by the key), sorted."""
    keys, codes = _factorize_categories(series, column)
    counts: Counter[str] = Counter()
    present = np.bincount(codes[codes >= 0], minlength=len(keys)).tolist()
    for key, count in zip(keys, present, strict=True):
        if key is not None:
            counts[key] += count
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(sorted(key for key, _ in ranked[:max_categories]))


def fit_transform_spec(frame: pd.DataFrame, spec: TransformSpec | None = None) -> FittedTransform:
    """Shorthand for ``Transform(spec).fit(frame)``."""
    return Transform(spec).fit(frame)


_Cell = tuple[int, float]  # (output position, value to write there)


@dataclass(frozen=True)
class _RowsPlan:
    """Per-column work for ``transform_rows``, precomputed once per transform."""

    width: int
    # (column, output position, center, scale, output for a missing value)
    numeric: tuple[tuple[str, int, float, float, float], ...]
    # (column, category -> cell, cell for <other>, cell for a missing value).  One-hot
    # writes 1.0 at the category's position (a missing value writes 0.0 to a zero cell);
    # ordinal writes the code, <other> as len(vocabulary), missing as -1.
    categorical: tuple[tuple[str, dict[str, _Cell], _Cell, _Cell], ...]


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
        self._plan: _RowsPlan | None = None
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
        _require_frame(frame)
        if self.spec.derive is not None:
            frame = _apply_derive(self._derive_function(), self.spec.derive, frame)
        _require_columns(frame, self.numeric_columns + self.categorical_columns)
        rows = len(frame)
        out = np.zeros((rows, self.n_features), dtype=np.float64)
        missing_counts: Counter[str] = Counter()
        unseen_counts: Counter[str] = Counter()

        k = len(self.numeric_columns)
        if k:
            block = np.empty((rows, k), dtype=np.float64)
            for j, column in enumerate(self.numeric_columns):
                block[:, j] = _numeric_values(frame[column], column)
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
            keys, codes = _factorize_categories(frame[column], column)
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
            _add_stats(stats, rows, missing_counts, unseen_counts)
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

        plan = self._plan if self._plan is not None else self._build_plan()
        width = plan.width
        out = np.zeros((len(rows), width), dtype=np.float64)
        # Writing through a memoryview is the cheapest way to set one float from Python.
        flat = cast("memoryview[float]", out.reshape(-1).data)
        missing_counts: dict[str, int] = {}
        unseen_counts: dict[str, int] = {}
        i, name = 0, ""
        try:
            for i, row in enumerate(rows):
                if type(row) is not dict and not isinstance(row, Mapping):
                    raise _not_a_mapping(i, row)
                base = i * width
                get = row.get
                for name, position, center, scale, imputed in plan.numeric:
                    value: Any = get(name)
                    kind = type(value)
                    # x - x == 0 holds for every finite number and fails for NaN and inf.
                    if (kind is float or kind is int) and value - value == 0:
                        flat[base + position] = (value - center) / scale
                        continue
                    number = _number(value)
                    if number != number:
                        flat[base + position] = imputed
                        missing_counts[name] = missing_counts.get(name, 0) + 1
                    else:
                        flat[base + position] = (number - center) / scale
                for name, lookup, other, absent in plan.categorical:
                    value = get(name)
                    key = value if type(value) is str else _category_key(value)
                    cell: _Cell | None
                    if key is None:
                        cell = absent
                        missing_counts[name] = missing_counts.get(name, 0) + 1
                    else:
                        cell = lookup.get(key)
                        if cell is None:
                            cell = other
                            unseen_counts[name] = unseen_counts.get(name, 0) + 1
                    flat[base + cell[0]] = cell[1]
        except ValueError as exc:
            raise InvalidRequest(f"row {i}, column {name!r}: {exc}", field=name, row=i) from None
        except OverflowError:
            raise InvalidRequest(
                f"row {i}, column {name!r}: the number is too large", field=name, row=i
            ) from None

        if stats is not None:
            _add_stats(stats, len(rows), missing_counts, unseen_counts)
        return out

    def _build_plan(self) -> _RowsPlan:
        fills, centers, scales = self._numeric_parameters()
        numeric = tuple(
            (column, j, centers[j], scales[j], (fills[j] - centers[j]) / scales[j])
            for j, column in enumerate(self.numeric_columns)
        )
        categorical: list[tuple[str, dict[str, _Cell], _Cell, _Cell]] = []
        position = len(self.numeric_columns)
        for column in self.categorical_columns:
            vocabulary = self.vocabularies[column]
            k = len(vocabulary)
            if self.spec.encoding == "onehot":
                cells = {value: (position + code, 1.0) for code, value in enumerate(vocabulary)}
                categorical.append((column, cells, (position + k, 1.0), (position, 0.0)))
                position += k + 1
            else:
                cells = {value: (position, float(code)) for code, value in enumerate(vocabulary)}
                categorical.append((column, cells, (position, float(k)), (position, -1.0)))
                position += 1
        self._plan = _RowsPlan(
            width=self.n_features, numeric=numeric, categorical=tuple(categorical)
        )
        return self._plan

    def _transform_rows_as_frame(
        self, rows: Sequence[Mapping[str, Any]], stats: TransformStats | None
    ) -> np.ndarray:
        self._derive_function()  # a missing function is the server's problem, not the client's
        columns = self.input_columns
        for i, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise _not_a_mapping(i, row)
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
            self._derive = _load_derive(self.spec.derive)
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
            document = _TransformDocument.model_validate(data)
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


class _TransformDocument(BaseModel):
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
    def _consistent(self) -> _TransformDocument:
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


# -- reading values -----------------------------------------------------------------------


def _number(value: object) -> float:
    """A numeric cell as a float, NaN when missing; ``ValueError`` says why it is refused."""
    if isinstance(value, bool | np.bool_):
        raise ValueError(f"expected a number, got the boolean {value}")
    if isinstance(value, int | np.integer):
        return float(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isinf(number):
            raise ValueError(f"expected a finite number, got {number}")
        return number
    if value is None or value is pd.NA:
        return math.nan
    if isinstance(value, str):
        raise ValueError(
            f"expected a number, got the text {_shorten(value)}; send numbers as JSON "
            "numbers, not strings"
        )
    raise ValueError(f"expected a number, got a {type(value).__name__}")


def _category_key(value: object) -> str | None:
    """A categorical cell as its vocabulary key, None when missing."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        if number != number:
            return None
        return str(int(number)) if number.is_integer() else repr(number)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    raise ValueError(f"expected text, got a {type(value).__name__}")


def _numeric_values(series: pd.Series, column: str) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        raise SchemaMismatch(
            f"column {column!r} holds booleans; the transform expects numbers here",
            column=column,
        )
    if pd.api.types.is_object_dtype(dtype) or isinstance(dtype, pd.StringDtype):
        # Cell by cell with the rows path's own reader, so both accept the same values.
        values = np.empty(len(series), dtype=np.float64)
        for i, value in enumerate(series.tolist()):
            try:
                values[i] = _number(value)
            except (ValueError, OverflowError) as exc:
                raise _cell_error(series, column, i, exc) from None
        return values
    if not pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_complex_dtype(dtype):
        raise SchemaMismatch(
            f"column {column!r} has dtype {dtype}; the transform expects numbers here",
            column=column,
        )
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        problem = ValueError(f"expected a finite number, got {values[infinite[0]]}")
        raise _cell_error(series, column, int(infinite[0]), problem)
    return values


def _factorize_categories(series: pd.Series, column: str) -> tuple[list[str | None], np.ndarray]:
    """A categorical column as its distinct keys and, per row, a code into them (-1: missing)."""
    if pd.api.types.is_object_dtype(series.dtype) and pd.api.types.infer_dtype(
        series, skipna=True
    ) not in ("string", "empty"):
        # Mixed Python objects: pandas would take 1, 1.0 and True for one value, so read
        # every cell with the rows path's reader first.
        cells = np.empty(len(series), dtype=object)
        for i, value in enumerate(series.tolist()):
            try:
                cells[i] = _category_key(value)
            except ValueError as exc:
                raise _cell_error(series, column, i, exc) from None
        cell_codes, cell_keys = pd.factorize(cells)
        return list(cell_keys), cell_codes
    codes, distinct = pd.factorize(series)
    keys: list[str | None] = []
    for j, value in enumerate(distinct):
        try:
            keys.append(_category_key(value))
        except ValueError as exc:
            first = int(np.flatnonzero(codes == j)[0])
            raise _cell_error(series, column, first, exc) from None
    return keys, codes


def _cell_error(series: pd.Series, column: str, i: int, exc: Exception) -> SchemaMismatch:
    label = series.index[i]
    return SchemaMismatch(f"column {column!r}, row {label!r}: {exc}", column=column)


def _not_a_mapping(i: int, row: object) -> InvalidRequest:
    return InvalidRequest(
        f"row {i} is a {type(row).__name__}; each row must be an object mapping column "
        "names to values"
    )


def _shorten(text: str, limit: int = 40) -> str:
    return repr(text) if len(text) <= limit else repr(text[:limit]) + "..."


# -- frames and columns -------------------------------------------------------------------


def _require_frame(frame: object) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"expected a pandas DataFrame, got a {type(frame).__name__}")


def _require_columns(frame: pd.DataFrame, columns: tuple[str, ...]) -> None:
    present = set(frame.columns)
    absent = [column for column in columns if column not in present]
    if absent:
        names = ", ".join(repr(c) for c in absent[:5]) + (", ..." if len(absent) > 5 else "")
        what = f"column {names} is" if len(absent) == 1 else f"{len(absent)} columns ({names}) are"
        raise SchemaMismatch(
            f"{what} missing from the frame; the transform reads {len(columns)} columns "
            "(see FittedTransform.input_columns)",
            column=absent[0],
        )
    duplicated = frame.columns[frame.columns.duplicated()]
    for column in columns:
        if column in duplicated:
            raise SchemaMismatch(f"column {column!r} appears twice in the frame", column=column)


def _check_column_names(frame: pd.DataFrame) -> None:
    for name in frame.columns:
        if not isinstance(name, str):
            raise SchemaMismatch(f"column names must be text, got {name!r}", column=str(name))
    duplicated = frame.columns[frame.columns.duplicated()]
    if len(duplicated):
        name = duplicated[0]
        raise SchemaMismatch(f"column {name!r} appears twice in the frame", column=name)


def _infer_kind(series: pd.Series) -> Literal["numeric", "categorical"] | None:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "categorical"
    if pd.api.types.is_numeric_dtype(dtype):
        return None if pd.api.types.is_complex_dtype(dtype) else "numeric"
    if isinstance(dtype, pd.StringDtype | pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_object_dtype(dtype):
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        return (
            "numeric"
            if inferred in ("integer", "floating", "mixed-integer-float")
            else "categorical"
        )
    return None


def _choose_columns(
    frame: pd.DataFrame, spec: TransformSpec
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The numeric and categorical columns: the spec's lists, or inferred from dtypes."""
    _check_column_names(frame)
    listed = (spec.numeric or ()) + (spec.categorical or ())
    _require_columns(frame, listed)
    numeric = list(spec.numeric or ())
    categorical = list(spec.categorical or ())
    if spec.numeric is None or spec.categorical is None:
        claimed = set(listed) | set(spec.drop)
        for name in frame.columns:
            if name in claimed:
                continue
            kind = _infer_kind(frame[name])
            if kind is None:
                raise SchemaMismatch(
                    f"column {name!r} has dtype {frame[name].dtype}, which the transform "
                    "cannot use; convert it, or list it in drop",
                    column=name,
                )
            if kind == "numeric" and spec.numeric is None:
                numeric.append(name)
            elif kind == "categorical" and spec.categorical is None:
                categorical.append(name)
    if not numeric and not categorical:
        raise DataError("the transform has no feature columns: every column is dropped")
    return tuple(numeric), tuple(categorical)


def _load_derive(reference: str) -> DeriveFunction:
    module_name, _, function_name = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise DataError(f"cannot import {module_name!r} for derive={reference!r}: {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise DataError(f"derive={reference!r}: {module_name} has no function {function_name!r}")
    return cast(DeriveFunction, function)


def _apply_derive(function: DeriveFunction, reference: str, frame: pd.DataFrame) -> pd.DataFrame:
    try:
        result = function(frame.copy(deep=False))
    except Exception as exc:  # user code: report it as a data problem, keep the cause
        raise DataError(f"derive function {reference} failed: {exc}") from exc
    if not isinstance(result, pd.DataFrame):
        raise DataError(
            f"derive function {reference} returned a {type(result).__name__}, not a DataFrame"
        )
    if len(result) != len(frame):
        raise DataError(f"derive function {reference} changed the number of rows")
    return result


def _add_stats(
    stats: TransformStats, rows: int, missing: Mapping[str, int], unseen: Mapping[str, int]
) -> None:
    stats.rows += rows
    stats.missing.update({c: n for c, n in missing.items() if n})
    stats.unseen.update({c: n for c, n in unseen.items() if n})
