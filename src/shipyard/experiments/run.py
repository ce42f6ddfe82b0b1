"""A tracked run: what a script or a notebook logs outside pipelines.

Logged values are kept in memory and written in batches by a thread of the run's own:
every ``FLUSH_SECONDS``, as soon as ``FLUSH_POINTS`` metric points wait, and when the
run ends.  A run ends when its ``with`` block does (``failed`` with the error when the
block raised), on ``end()``, or when the interpreter exits (``failed`` when it exits
on an uncaught exception).  A process killed outright leaves the run ``running`` with
what was flushed; ``shipyard runs`` then finds its process gone and marks it
``crashed``.
"""

from __future__ import annotations

import atexit
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.errors import PipelineError, StoreError
from shipyard.pipeline.environment import code_version, environment_info
from shipyard.pipeline.tracking import activate, active_recorder, deactivate, finite
from shipyard.store.records import MetricPoints, RunRecord, StoredOutput

if TYPE_CHECKING:
    import pandas as pd

    from shipyard.data.transform import FittedTransform
    from shipyard.project import Project
    from shipyard.store import ArtifactRecord, DatasetVersionRecord, ModelVersionRecord

__all__ = [
    "FLUSH_POINTS",
    "FLUSH_SECONDS",
    "TrackedRun",
    "active_run",
    "log_artifact",
    "log_dataset",
    "log_model",
    "set_tag",
    "set_tags",
    "start_run",
]

FLUSH_SECONDS = 1.0
FLUSH_POINTS = 20_000
COMPONENT = "shipyard.start_run"
DEFAULT_EXPERIMENT = "default"

_open: list[TrackedRun] = []
"""Runs not yet ended, for the interpreter's exit."""


class TrackedRun:
    """One run of an experiment: parameters, metrics, tags, data, artifacts and models.

    Made by ``shipyard.start_run``; usable as a context manager, and also active (the
    target of ``shipyard.log_metric`` and friends) until it ends.
    """

    def __init__(self, project: Project, record: RunRecord, parent: TrackedRun | None) -> None:
        self.project = project
        self.record = record
        self.parent = parent
        self._params: dict[str, Any] = {}
        self._points = MetricPoints()
        self._lock = threading.Lock()  # the values waiting
        self._writing = threading.Lock()  # one batch written at a time, in order
        self._wake = threading.Event()
        self._ended = False
        self._failure: BaseException | None = None
        self._datasets: list[tuple[ArtifactRecord, DatasetVersionRecord]] = []
        self._writer = threading.Thread(
            target=self._write_loop, name=f"shipyard-run-{record.id}", daemon=True
        )
        self._writer.start()
        activate(self)
        _open.append(self)

    def __repr__(self) -> str:
        return f"TrackedRun(id={self.id}, experiment={self.experiment!r}, name={self.name!r})"

    @property
    def id(self) -> int:
        return self.record.id

    @property
    def experiment(self) -> str | None:
        return self.record.experiment

    @property
    def name(self) -> str | None:
        return self.record.name

    # -- logging --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._ended:
            raise PipelineError(f"run {self.id} has ended; start a new run to log more")

    def record_param(self, key: str, value: Any) -> None:
        self._check_open()
        with self._lock:
            self._params[key] = value

    def record_metric(self, key: str, value: float, step: int | None) -> None:
        self._check_open()
        with self._lock:
            points = self._points
            points.keys.append(key)
            points.values.append(value)
            points.steps.append(step)
            points.times.append(time.time())
            if len(points.keys) >= FLUSH_POINTS:
                self._wake.set()

    def log_param(self, key: str, value: Any) -> None:
        """Record a parameter (a JSON value); logging a key again overwrites it."""
        self.record_param(key, value)

    def log_params(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.record_param(key, value)

    def log_metric(self, key: str, value: float, *, step: int | None = None) -> None:
        """Record a metric value, optionally at a training ``step``."""
        self.record_metric(key, finite(key, value), step)

    def log_metrics(self, values: Mapping[str, float], *, step: int | None = None) -> None:
        for key, value in values.items():
            self.record_metric(key, finite(key, value), step)

    def log_batch(
        self,
        metrics: Iterable[tuple[str, float, int | None]] = (),
        *,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Record many values at once: metric points as (key, value, step), parameters
        and tags.  Every value is checked before any is kept."""
        self._check_open()
        keys, values, steps = [], [], []
        for key, value, step in metrics:
            keys.append(key)
            values.append(finite(key, value))
            steps.append(step)
        if tags:
            self.set_tags(tags)
        now = time.time()
        with self._lock:
            self._params.update(params or {})
            points = self._points
            points.keys.extend(keys)
            points.values.extend(values)
            points.steps.extend(steps)
            points.times.extend([now] * len(keys))
            if len(points.keys) >= FLUSH_POINTS:
                self._wake.set()

    def set_tag(self, key: str, value: Any) -> None:
        """Label the run (written at once, not buffered)."""
        self.set_tags({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        self._check_open()
        self.project.store.set_properties("run", self.id, values)

    @property
    def tags(self) -> dict[str, Any]:
        return self.project.store.get_properties("run", self.id)

    # -- writing --------------------------------------------------------------------

    def _take(self) -> tuple[dict[str, Any], MetricPoints]:
        with self._lock:
            params, points = self._params, self._points
            self._params, self._points = {}, MetricPoints()
            self._wake.clear()
        return params, points

    def flush(self) -> None:
        """Write what was logged so far (when this returns, it is in the store).  A
        failed write keeps the values for the next try."""
        with self._writing:
            params, points = self._take()
            if not params and not points:
                return
            try:
                self.project.store.tracking.append(self.id, params=params, points=points)
            except StoreError:
                with self._lock:
                    self._params = {**params, **self._params}
                    for column in ("keys", "values", "steps", "times"):
                        getattr(points, column).extend(getattr(self._points, column))
                    self._points = points
                raise

    def _write_loop(self) -> None:
        while not self._ended:
            self._wake.wait(FLUSH_SECONDS)
            try:
                self.flush()
            except StoreError as exc:
                self._failure = exc

    # -- data, artifacts and models ---------------------------------------------------

    def _record_step(
        self,
        step: str,
        *,
        outputs: Mapping[str, StoredOutput],
        inputs: Mapping[str, int] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> dict[str, ArtifactRecord]:
        store = self.project.store
        execution = store.start_execution(
            self.id,
            step=step,
            component=COMPONENT,
            fingerprint=None,
            params=params or {},
            inputs=inputs or {},
        )
        return store.finish_execution(execution, status="succeeded", attempts=1, outputs=outputs)

    def _stored(self, path: Path, type_name: str, properties: Mapping[str, Any]) -> StoredOutput:
        blob = self.project.artifacts.put(path)
        return StoredOutput(
            type_name=type_name,
            digest=blob.digest,
            kind=blob.kind,
            size=blob.size,
            uri=blob.uri,
            properties=dict(properties),
        )

    def log_dataset(self, path: Path | str, *, name: str | None = None) -> DatasetVersionRecord:
        """Record a CSV or Parquet file (or a folder of them) the run uses: stored in the
        artifact store and registered as a version of dataset ``name`` (the file's stem
        by default), the same version a pipeline reading the same content gets."""
        from shipyard.data.ingest import read_table, source_digest

        self._check_open()
        source = Path(path).resolve()
        digest = source_digest(source)
        frame = read_table(source)
        dataset = name or source.stem
        properties = {"source": str(source), "source_digest": digest, "dataset": dataset}
        artifact = self._record_step(
            f"log_dataset {dataset}",
            outputs={"data": self._stored(source, "Dataset", properties)},
        )["data"]
        version = self.project.store.datasets.register(
            dataset,
            digest=digest,
            source=str(source),
            rows=len(frame),
            columns=len(frame.columns),
            examples_id=artifact.id,
            run_id=self.id,
        )
        self._datasets.append((artifact, version))
        return version

    def log_artifact(self, path: Path | str, *, name: str | None = None) -> ArtifactRecord:
        """Store a file or a folder the run made (content-addressed, atomic), linked to
        the run in the lineage."""
        self._check_open()
        source = Path(path)
        if not source.exists():
            raise PipelineError(f"log_artifact: {source} does not exist")
        port = name or source.name
        return self._record_step(
            f"log_artifact {port}", outputs={port: self._stored(source, "Artifact", {})}
        )[port]

    def log_model(
        self,
        estimator: Any,
        *,
        data: pd.DataFrame,
        target: str,
        transform: FittedTransform | None = None,
        register: str | None = None,
    ) -> ArtifactRecord | ModelVersionRecord:
        """Package a fitted estimator as a pipeline's Trainer does, store it, and with
        ``register`` add it as the next version of that registered model.

        ``data`` is the training frame, target column included: the package's schema
        and input columns come from it.  Without ``transform`` the estimator must have
        been fitted on ``data``'s other columns as they are (numbers only); with one,
        on ``transform``'s features.  The package must answer as the estimator does on
        ``data``'s complete rows, or nothing is stored.
        """
        import tempfile

        from shipyard.components.payloads import StatisticsPayload
        from shipyard.experiments.models import package_estimator

        self._check_open()
        inputs = {f"data {i}": artifact.id for i, (artifact, _) in enumerate(self._datasets)}
        with tempfile.TemporaryDirectory(prefix="shipyard-model-") as folder:
            package = Path(folder) / "model"
            manifest, statistics = package_estimator(
                package, estimator, data=data, target=target, transform=transform
            )
            output = self._stored(
                package, "Model", {"task": manifest.task, "estimator": manifest.estimator}
            )
            # What monitoring compares a served version's windows with: the data it
            # learned from (one frame here, so both splits hold its statistics).
            StatisticsPayload(train=statistics, evaluation=statistics).write(
                Path(folder) / "statistics"
            )
            described = self._stored(Path(folder) / "statistics", "ExampleStatistics", {})
        inputs["statistics"] = self._record_step(
            "log_model statistics", outputs={"statistics": described}
        )["statistics"].id
        model = self._record_step(
            "log_model",
            outputs={"model": output},
            inputs=inputs,
            params={"estimator": manifest.estimator},
        )["model"]
        if register is None:
            return model
        self.flush()
        return self.project.registry.register(
            register,
            package_id=model.id,
            run_id=self.id,
            dataset_version_id=self._datasets[-1][1].id if self._datasets else None,
            metrics=self.project.store.tracking.latest_metrics(self.id),
            code_version=self.record.code_version,
        )

    # -- nesting and ending ---------------------------------------------------------

    def start_run(self, name: str | None = None, **options: Any) -> TrackedRun:
        """A run nested under this one (a trial, a fold), in the same experiment."""
        return start_run(self.experiment, name, project=self.project, parent=self, **options)

    def end(self, status: str = "succeeded", error: str | None = None) -> None:
        """Write what waits and record the run's end (once; later calls do nothing).
        Child runs still open end first, with the same status."""
        if self._ended:
            return
        for child in [run for run in _open if run.parent is self]:
            child.end(status, error)
        self._ended = True
        self._wake.set()
        self._writer.join()
        deactivate(self)
        if self in _open:
            _open.remove(self)
        self.flush()
        if self._failure is not None and status == "succeeded":
            status, error = "failed", f"logged values could not be written: {self._failure}"
        self.project.store.finish_run(self.id, status=status, error=error)

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: Any
    ) -> None:
        if error is None:
            self.end()
        else:
            self.end("failed", f"{type(error).__name__}: {error}")


def start_run(
    experiment: str | None = None,
    name: str | None = None,
    *,
    project: Project | Path | str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    data: Iterable[Path | str] = (),
    parent: TrackedRun | None = None,
) -> TrackedRun:
    """Start a run of ``experiment`` (``"default"`` when none is given), outside pipelines.

    >>> with shipyard.start_run("churn", "baseline") as run:  # doctest: +SKIP
    ...     shipyard.log_param("alpha", 0.1)
    ...     run.log_metric("auc", 0.91)

    ``project`` is a ``Project`` or the folder holding one (the current folder by
    default).  A run started while another is open in this process is nested under it
    (``parent`` says so explicitly).  The run records the project's git commit, the
    environment, the entry point, ``params`` and ``tags``, and each file of ``data`` as
    a dataset version (``log_dataset``).
    """
    from shipyard.project import Project

    if parent is None:
        innermost = active_recorder()
        parent = innermost if isinstance(innermost, TrackedRun) else None
    if parent is not None and parent._ended:
        raise PipelineError(f"run {parent.id} has ended; nest new runs under an open one")
    if isinstance(project, Project):
        opened = project
    elif project is None and parent is not None:
        opened = parent.project
    else:
        opened = Project.open(project or ".")
    commit, dirty = code_version(opened.root)
    environment = environment_info() | {"entry_point": _entry_point()}
    record = opened.store.start_run(
        "",
        params={},
        code_version=commit,
        code_dirty=dirty,
        environment=environment,
        kind="tracked",
        experiment=experiment or (parent.experiment if parent else DEFAULT_EXPERIMENT),
        name=name,
        parent_id=None if parent is None else parent.id,
    )
    run = TrackedRun(opened, record, parent)
    try:
        if params:
            run.log_params(params)
        if tags:
            run.set_tags(tags)
        for path in data:
            run.log_dataset(path)
    except BaseException as exc:
        run.end("failed", f"{type(exc).__name__}: {exc}")
        raise
    return run


def active_run() -> TrackedRun:
    """The innermost run ``start_run`` opened in this process and that has not ended."""
    innermost = active_recorder()
    if not isinstance(innermost, TrackedRun):
        raise PipelineError("no run is open: start one with `with shipyard.start_run():`")
    return innermost


def set_tag(key: str, value: Any) -> None:
    """Label the open run (``TrackedRun.set_tag``)."""
    active_run().set_tag(key, value)


def set_tags(values: Mapping[str, Any]) -> None:
    """Label the open run with several tags at once."""
    active_run().set_tags(values)


def log_dataset(path: Path | str, *, name: str | None = None) -> DatasetVersionRecord:
    """Record a data file the open run uses (``TrackedRun.log_dataset``)."""
    return active_run().log_dataset(path, name=name)


def log_artifact(path: Path | str, *, name: str | None = None) -> ArtifactRecord:
    """Store a file or folder the open run made (``TrackedRun.log_artifact``)."""
    return active_run().log_artifact(path, name=name)


def log_model(estimator: Any, **options: Any) -> ArtifactRecord | ModelVersionRecord:
    """Package, store and optionally register a fitted estimator of the open run
    (``TrackedRun.log_model``)."""
    return active_run().log_model(estimator, **options)


def _entry_point() -> str:
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return str(Path(path).resolve()) if path else "interactive"


@atexit.register
def _end_open_runs() -> None:
    error = getattr(sys, "last_value", None)
    for run in reversed(list(_open)):
        if error is None:
            run.end()
        else:
            run.end("failed", f"the interpreter exited on {type(error).__name__}: {error}")
