"""Anomalies: where a dataset's statistics break its schema or moved from the last version.

Each finding is an :class:`Anomaly` of severity ``error`` (the data should not be used as
is) or ``warning`` (worth a look, does not stop a pipeline):

=====================  ========  ==========================================================
kind                   severity  when
=====================  ========  ==========================================================
``empty_dataset``      error     the dataset has no rows
``missing_column``     error     a required column is absent
``unexpected_column``  warning   a column is not in the schema
``type_change``        error     the type differs from the schema's; int data where
                                 float is expected is fine, float data where int is
                                 expected is a warning
``missing_values``     error     more values are missing than ``max_missing_fraction``
``out_of_range``       warning   more than ``outside_tolerance`` (1%) of the values fall
                                 outside ``min``/``max`` (``range_severity``): inferred
                                 ranges come from a sample, so new data exceeds them a
                                 little, legitimately
``unseen_categories``  warning   more than ``outside_tolerance`` of the text values are
                                 outside the schema's ``domain`` (a sample misses rare
                                 categories too)
``dataset_size``       warning   row count changed by more than ``size_change_bound``
                                 times against the previous version
``drift``              warning   a column's Jensen-Shannon distance exceeds both its
                                 threshold and the sampling noise (``drift_severity``);
                                 columns with too few values are not judged
=====================  ========  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

from shipyard.data.drift import DriftResult, dataset_drift
from shipyard.data.schema import ColumnSchema, Schema
from shipyard.data.skew import out_of_range_share
from shipyard.data.statistics import ColumnStatistics, DatasetStatistics
from shipyard.errors import DataError, ValidationFailed

__all__ = [
    "Anomaly",
    "AnomalyKind",
    "DEFAULT_OUTSIDE_TOLERANCE",
    "Severity",
    "ValidationReport",
    "validate_statistics",
]

DEFAULT_OUTSIDE_TOLERANCE = 0.01
"""The share of values outside a range or domain that is a sample's chance, not news."""

Severity = Literal["error", "warning"]
AnomalyKind = Literal[
    "empty_dataset",
    "missing_column",
    "unexpected_column",
    "type_change",
    "missing_values",
    "out_of_range",
    "unseen_categories",
    "dataset_size",
    "drift",
]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
ANOMALY_KINDS: tuple[AnomalyKind, ...] = get_args(AnomalyKind)

# How many unseen values an anomaly message quotes.
_EXAMPLES = 5


@dataclass(frozen=True)
class Anomaly:
    """One finding; ``column`` is None for findings about the whole dataset."""

    column: str | None
    kind: AnomalyKind
    severity: Severity
    message: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Anomaly:
        """Read what :meth:`to_dict` wrote; raise ``DataError`` on a bad record."""
        try:
            kind, severity, column = data["kind"], data["severity"], data["column"]
            if kind not in ANOMALY_KINDS:
                raise ValueError(f"kind must be one of {', '.join(ANOMALY_KINDS)}")
            if severity not in SEVERITIES:
                raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}")
            return cls(
                column=None if column is None else str(column),
                kind=kind,
                severity=severity,
                message=str(data["message"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"invalid anomaly {dict(data)!r}: {exc}") from exc


@dataclass(frozen=True)
class ValidationReport:
    """Anomalies found in a dataset, and the drift measured against its previous version."""

    anomalies: list[Anomaly] = field(default_factory=list)
    drift: list[DriftResult] = field(default_factory=list)

    @property
    def errors(self) -> list[Anomaly]:
        """Anomalies of severity ``error``."""
        return [anomaly for anomaly in self.anomalies if anomaly.severity == "error"]

    @property
    def warnings(self) -> list[Anomaly]:
        """Anomalies of severity ``warning``."""
        return [anomaly for anomaly in self.anomalies if anomaly.severity == "warning"]

    @property
    def has_errors(self) -> bool:
        """Whether any anomaly has severity ``error``."""
        return bool(self.errors)

    def raise_for_errors(self) -> None:
        """Raise ``ValidationFailed`` listing the errors, if there are any."""
        errors = self.errors
        if errors:
            listed = "; ".join(anomaly.message for anomaly in errors)
            raise ValidationFailed(
                f"data validation found {len(errors)} error(s): {listed}", anomalies=errors
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form."""
        return {
            "anomalies": [anomaly.to_dict() for anomaly in self.anomalies],
            "drift": [result.to_dict() for result in self.drift],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ValidationReport:
        """Read what :meth:`to_dict` wrote."""
        try:
            anomalies, drift = data["anomalies"], data["drift"]
        except (KeyError, TypeError) as exc:
            raise DataError(f"a validation report needs 'anomalies' and 'drift': {exc}") from exc
        return cls(
            anomalies=[Anomaly.from_dict(item) for item in anomalies],
            drift=[DriftResult.from_dict(item) for item in drift],
        )


def validate_statistics(
    statistics: DatasetStatistics,
    schema: Schema,
    *,
    previous: DatasetStatistics | None = None,
    drift_thresholds: float | Mapping[str, float] | None = None,
    size_change_bound: float = 2.0,
    drift_severity: Severity = "warning",
    range_severity: Severity = "warning",
    outside_tolerance: float = DEFAULT_OUTSIDE_TOLERANCE,
) -> ValidationReport:
    """Check ``statistics`` against ``schema`` and, if given, the ``previous`` version.

    ``drift_thresholds`` is passed to :func:`~shipyard.data.drift.dataset_drift`;
    ``size_change_bound`` is the factor by which the row count may grow or shrink against
    ``previous`` before a warning.
    """
    if size_change_bound < 1:
        raise ValueError(f"size_change_bound must be at least 1, got {size_change_bound}")
    anomalies: list[Anomaly] = []
    if statistics.num_rows == 0:
        anomalies.append(
            Anomaly(None, "empty_dataset", "error", "the dataset has no rows; expected data")
        )
    for expected in schema.columns:
        if expected.name in statistics:
            anomalies += _check_column(
                statistics[expected.name], expected, range_severity, outside_tolerance
            )
        elif expected.required:
            anomalies.append(
                Anomaly(
                    expected.name,
                    "missing_column",
                    "error",
                    f"column {expected.name!r} is missing; the schema requires it "
                    f"(type {expected.type})",
                )
            )
    for column in statistics:
        if column.name not in schema:
            anomalies.append(
                Anomaly(
                    column.name,
                    "unexpected_column",
                    "warning",
                    f"column {column.name!r} ({column.type}) is not in the schema; "
                    "add it to the schema or drop it from the data",
                )
            )
    drift: list[DriftResult] = []
    if previous is not None:
        anomalies += _check_size(statistics.num_rows, previous.num_rows, size_change_bound)
        drift = dataset_drift(previous, statistics, drift_thresholds)
        anomalies += [
            Anomaly(
                result.column,
                "drift",
                drift_severity,
                f"column {result.column!r} drifted from the previous version: "
                f"{result.metric.replace('_', '-')} distance {result.value:.3g} "
                f"exceeds {result.threshold:.3g} (n={result.count:,} values against "
                f"{result.reference_count:,}); if the change is expected, ignore it or "
                "raise the column's drift threshold",
            )
            for result in drift
            if result.status == "drifted"
        ]
    return ValidationReport(anomalies=anomalies, drift=drift)


def _check_column(
    column: ColumnStatistics, expected: ColumnSchema, range_severity: Severity, tolerance: float
) -> list[Anomaly]:
    found: list[Anomaly] = []
    name = column.name
    if column.missing_fraction > expected.max_missing_fraction:
        found.append(
            Anomaly(
                name,
                "missing_values",
                "error",
                f"column {name!r} is {column.missing_fraction:.2%} missing "
                f"({column.missing} of {column.count} rows); the schema allows at most "
                f"{expected.max_missing_fraction:.2%}",
            )
        )
    if column.present == 0:
        return found  # no values: nothing to say about their type, range or domain
    if column.type != expected.type and not (column.type == "int" and expected.type == "float"):
        widened = column.type == "float" and expected.type == "int"
        found.append(
            Anomaly(
                name,
                "type_change",
                "warning" if widened else "error",
                f"column {name!r} holds {column.type} values but the schema expects "
                f"{expected.type}",
            )
        )
        if not widened:
            return found
    if column.numeric is not None:
        found += _check_range(column, expected, range_severity, tolerance)
    if column.categorical is not None and expected.domain is not None:
        found += _check_domain(column, expected.domain, tolerance)
    return found


def _check_range(
    column: ColumnStatistics, expected: ColumnSchema, severity: Severity, tolerance: float
) -> list[Anomaly]:
    numeric = column.numeric
    assert numeric is not None
    low = expected.min if expected.min is not None else -float("inf")
    high = expected.max if expected.max is not None else float("inf")
    if low <= numeric.min and numeric.max <= high:
        return []
    outside = out_of_range_share(numeric, expected)
    if outside <= tolerance:
        return []
    allowed = f"[{_number(expected.min, '-inf')}, {_number(expected.max, 'inf')}]"
    return [
        Anomaly(
            column.name,
            "out_of_range",
            severity,
            f"column {column.name!r} has values in [{numeric.min:.6g}, {numeric.max:.6g}]"
            f" (about {outside:.2%} outside); the schema allows {allowed}",
        )
    ]


def _check_domain(column: ColumnStatistics, domain: list[str], tolerance: float) -> list[Anomaly]:
    assert column.categorical is not None
    known = set(domain)
    counts = column.categorical.value_counts()
    unseen = [value for value in counts if value not in known]
    if sum(counts[value] for value in unseen) <= tolerance * column.present:
        return []
    examples = ", ".join(repr(value) for value in unseen[:_EXAMPLES])
    more = f" and {len(unseen) - _EXAMPLES} more" if len(unseen) > _EXAMPLES else ""
    return [
        Anomaly(
            column.name,
            "unseen_categories",
            "warning",
            f"column {column.name!r} has {len(unseen)} value(s) outside the schema's domain "
            f"of {len(domain)}: {examples}{more}; add them to the domain if they are valid",
        )
    ]


def _check_size(rows: int, previous_rows: int, bound: float) -> list[Anomaly]:
    if previous_rows == 0 or rows == 0:
        return []  # an empty dataset is reported on its own; no ratio to speak of
    ratio = rows / previous_rows
    if 1 / bound <= ratio <= bound:
        return []
    change = f"{ratio:.3g}x more" if ratio > 1 else f"{1 / ratio:.3g}x fewer"
    return [
        Anomaly(
            None,
            "dataset_size",
            "warning",
            f"the dataset has {rows:,} rows, {change} than the previous version's "
            f"{previous_rows:,}; expected within {bound:g}x",
        )
    ]


def _number(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:.6g}"
