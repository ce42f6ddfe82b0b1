"""Runs side by side: what each ran on and with, and what it measured.

>>> comparison = project.compare_runs([3, 4])  # doctest: +SKIP
>>> [row.key for row in comparison.rows if row.differs]  # doctest: +SKIP
['param model.max_iter', 'metric rmse']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from shipyard.store import RunRecord

if TYPE_CHECKING:
    from shipyard.store import MetadataStore

__all__ = ["ComparedValues", "RunComparison", "compare_runs"]

RowKind = Literal["run", "data", "param", "metric"]


@dataclass(frozen=True)
class ComparedValues:
    """One quantity across the compared runs; ``None`` where a run has no such value.

    ``key`` reads ``pipeline``, ``status``, ``code`` (the git commit), ``data STEP.PORT``
    (the digest of the source a step ingested), ``param STEP.NAME`` (a step's parameter),
    ``param NAME`` (a logged parameter) or ``metric NAME`` (the last logged value).
    """

    key: str
    kind: RowKind
    values: tuple[Any, ...]

    @property
    def differs(self) -> bool:
        return len({repr(value) for value in self.values}) > 1


@dataclass(frozen=True)
class RunComparison:
    """The compared runs, in the order asked, and one row per quantity any of them has."""

    runs: tuple[RunRecord, ...]
    rows: tuple[ComparedValues, ...]

    def row(self, key: str) -> ComparedValues:
        """The row named ``key``; ``KeyError`` when no run has it."""
        for row in self.rows:
            if row.key == key:
                return row
        raise KeyError(key)


def compare_runs(store: MetadataStore, run_ids: Sequence[int]) -> RunComparison:
    """Compare runs: code, data versions, parameters and metrics."""
    runs = tuple(store.get_run(run_id) for run_id in run_ids)
    found: dict[str, tuple[RowKind, list[Any]]] = {}

    def put(key: str, kind: RowKind, index: int, value: Any) -> None:
        found.setdefault(key, (kind, [None] * len(runs)))[1][index] = value

    for index, run in enumerate(runs):
        put("run", "run", index, run.label)
        put("experiment", "run", index, run.experiment)
        put("status", "run", index, run.status)
        put("code", "run", index, run.code_version)
        for step in store.run_executions(run.id):
            for port, artifact in step.outputs.items():
                if "source_digest" in artifact.properties:
                    put(
                        f"data {step.step}.{port}",
                        "data",
                        index,
                        artifact.properties["source_digest"],
                    )
        for step_name, params in run.params.items():
            for key, value in params.items():
                put(f"param {step_name}.{key}", "param", index, value)
        for key, value in store.tracking.params(run.id).items():
            put(f"param {key}", "param", index, value)
        for key, metric in store.tracking.latest_metrics(run.id).items():
            put(f"metric {key}", "metric", index, metric)
    rows = tuple(ComparedValues(key, kind, tuple(values)) for key, (kind, values) in found.items())
    return RunComparison(runs=runs, rows=rows)
