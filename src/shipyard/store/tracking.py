"""Experiment tracking: parameters and metrics that steps and tracked runs log.

A tracked run (``shipyard.start_run``) hands over its metrics in batches of thousands of
points: ``append`` writes them with one multi-row statement per batch, through SQLAlchemy
Core rather than the ORM (which would build an object per point), and ``history`` reads
one key's points back the same way, along the index by run, key and order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from sqlalchemy import func, select

from shipyard.store.database import Database
from shipyard.store.reader import StoreReader
from shipyard.store.records import MetricPoints, MetricRecord
from shipyard.store.tables import RunMetricRow, RunParamRow, utcnow

_METRIC_COLUMNS = "run_id, key, value, step, recorded_at"
_METRIC_TYPES = ("int4", "varchar", "float8", "int4", "timestamptz")
"""The columns' PostgreSQL types, for a binary COPY."""


class TrackingRepository:
    """Reads and writes the logged parameters and metrics of runs."""

    def __init__(self, database: Database, reader: StoreReader) -> None:
        self.database = database
        self.reader = reader

    def record(
        self,
        run_id: int,
        *,
        execution_id: int | None,
        params: Mapping[str, Any],
        metrics: Iterable[tuple[str, float, int | None]],
    ) -> None:
        """Store what one step logged; a parameter logged again keeps its last value."""
        metrics = list(metrics)
        if not params and not metrics:
            return
        with self.database.writing(f"logging parameters and metrics of run {run_id}") as s:
            existing = {
                row.key: row
                for row in s.scalars(
                    select(RunParamRow).where(
                        RunParamRow.run_id == run_id, RunParamRow.key.in_(list(params))
                    )
                )
            }
            for key, value in params.items():
                if key in existing:
                    existing[key].value = value
                else:
                    s.add(
                        RunParamRow(run_id=run_id, execution_id=execution_id, key=key, value=value)
                    )
            now = utcnow()
            s.add_all(
                RunMetricRow(
                    run_id=run_id,
                    execution_id=execution_id,
                    key=key,
                    value=float(value),
                    step=step,
                    recorded_at=now,
                )
                for key, value, step in metrics
            )

    def append(self, run_id: int, *, params: Mapping[str, Any], points: MetricPoints) -> None:
        """Store a tracked run's batch, in one transaction: parameters (each keeps its
        last value) and metric points.

        The points go to the driver as they are, not through the ORM nor Core's per-row
        processing: ``executemany`` on SQLite, ``COPY`` on PostgreSQL.  Their times are
        kept to the millisecond, each distinct millisecond converted once.
        """
        if params:
            self.record(run_id, execution_id=None, params=params, metrics=())
        if not points:
            return
        column = RunMetricRow.__table__.c.recorded_at
        process: Callable[[Any], Any] = column.type.bind_processor(
            self.database.engine.dialect
        ) or (lambda value: value)
        millis = [int(at * 1000) for at in points.times]
        stamps = {m: process(datetime.fromtimestamp(m / 1000, UTC)) for m in set(millis)}
        rows: Iterable[Any] = zip(
            repeat(run_id),
            points.keys,
            points.values,
            points.steps,
            map(stamps.__getitem__, millis),
            strict=False,
        )
        with self.database.writing(f"logging {len(points)} metric points of run {run_id}") as s:
            cursor: Any = s.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
            if self.database.dialect == "postgresql":
                binary = f"COPY run_metrics ({_METRIC_COLUMNS}) FROM STDIN (FORMAT BINARY)"
                with cursor.copy(binary) as copy:
                    copy.set_types(_METRIC_TYPES)
                    for row in rows:
                        copy.write_row(row)
            else:
                cursor.executemany(
                    f"INSERT INTO run_metrics ({_METRIC_COLUMNS}) VALUES (?, ?, ?, ?, ?)", rows
                )

    def history(self, run_id: int, key: str) -> list[tuple[int | None, float, datetime]]:
        """Every point of metric ``key`` of a run as (step, value, time), in logging order."""
        query = (
            select(RunMetricRow.step, RunMetricRow.value, RunMetricRow.recorded_at)
            .where(RunMetricRow.run_id == run_id, RunMetricRow.key == key)
            .order_by(RunMetricRow.id)
        )
        with self.database.reading(f"reading metric '{key}' of run {run_id}") as s:
            return [(step, value, at) for step, value, at in s.execute(query)]

    def point_counts(self, run_id: int) -> dict[str, int]:
        """How many points each metric of a run has, in the order the keys were first
        logged (one grouped query, whatever the histories' lengths)."""
        query = (
            select(RunMetricRow.key, func.count())
            .where(RunMetricRow.run_id == run_id)
            .group_by(RunMetricRow.key)
            .order_by(func.min(RunMetricRow.id))
        )
        with self.database.reading(f"counting the metric points of run {run_id}") as s:
            return {key: count for key, count in s.execute(query)}

    def copy(self, *, from_execution: int, to_run: int, to_execution: int) -> None:
        """Carry what a cached execution logged into the run that reused it."""
        params, metrics = self.of_execution(from_execution)
        self.record(
            to_run,
            execution_id=to_execution,
            params=params,
            metrics=[(m.key, m.value, m.step) for m in metrics],
        )

    def of_execution(self, execution_id: int) -> tuple[dict[str, Any], list[MetricRecord]]:
        with self.database.reading(f"reading what execution {execution_id} logged") as s:
            params = {
                row.key: row.value
                for row in s.scalars(
                    select(RunParamRow).where(RunParamRow.execution_id == execution_id)
                )
            }
            metrics = [
                MetricRecord(row.key, row.value, row.step, row.execution_id)
                for row in s.scalars(
                    select(RunMetricRow)
                    .where(RunMetricRow.execution_id == execution_id)
                    .order_by(RunMetricRow.id)
                )
            ]
        return params, metrics

    def params(self, run_id: int) -> dict[str, Any]:
        with self.database.reading(f"reading the parameters of run {run_id}") as s:
            rows = s.scalars(select(RunParamRow).where(RunParamRow.run_id == run_id))
            return {row.key: row.value for row in rows}

    def metrics(self, run_id: int) -> list[MetricRecord]:
        """Every logged value of every metric of a run, in logging order."""
        with self.database.reading(f"reading the metrics of run {run_id}") as s:
            rows = s.scalars(
                select(RunMetricRow).where(RunMetricRow.run_id == run_id).order_by(RunMetricRow.id)
            )
            return [MetricRecord(r.key, r.value, r.step, r.execution_id) for r in rows]

    def latest_metrics(self, run_id: int) -> dict[str, float]:
        """The last logged value of each metric of a run (one row read per key, however
        long its history)."""
        last = (
            select(func.max(RunMetricRow.id))
            .where(RunMetricRow.run_id == run_id)
            .group_by(RunMetricRow.key)
        )
        query = (
            select(RunMetricRow.key, RunMetricRow.value)
            .where(RunMetricRow.id.in_(last))
            .order_by(RunMetricRow.id)
        )
        with self.database.reading(f"reading the metrics of run {run_id}") as s:
            return {key: value for key, value in s.execute(query)}

    def latest_of(
        self, run_ids: Iterable[int], keys: Iterable[str] | None = None
    ) -> dict[int, dict[str, float]]:
        """``StoreReader.latest_metrics_of``: the last value of each metric of each run."""
        return self.reader.latest_metrics_of(run_ids, keys)
