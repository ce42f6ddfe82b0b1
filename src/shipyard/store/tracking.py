"""Experiment tracking: parameters and metrics that steps log for their run."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select

from shipyard.store.database import Database
from shipyard.store.records import MetricRecord
from shipyard.store.tables import RunMetricRow, RunParamRow, utcnow


class TrackingRepository:
    """Reads and writes the logged parameters and metrics of runs."""

    def __init__(self, database: Database) -> None:
        self.database = database

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
        """The last logged value of each metric of a run."""
        return {metric.key: metric.value for metric in self.metrics(run_id)}

    def latest_of(self, run_ids: Iterable[int], keys: Iterable[str]) -> dict[int, dict[str, float]]:
        """The last logged value of the metrics ``keys`` of each run (runs that logged
        none are left out): one query for a page of runs, not one per run."""
        ids, names = list(run_ids), list(keys)
        if not ids or not names:
            return {}
        query = (
            select(RunMetricRow.run_id, RunMetricRow.key, RunMetricRow.value)
            .where(RunMetricRow.run_id.in_(ids), RunMetricRow.key.in_(names))
            .order_by(RunMetricRow.id)
        )
        found: dict[int, dict[str, float]] = {}
        with self.database.reading("reading the metrics of runs") as s:
            for run_id, key, value in s.execute(query):
                found.setdefault(run_id, {})[key] = value
        return found
