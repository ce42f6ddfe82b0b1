"""A project: a folder with ``shipyard.yaml``, and the stores it configures.

This is the Python API the CLI, the server and the dashboard share.

>>> project = Project.init(tmp_path, name="demo")  # doctest: +SKIP
>>> result = project.run(pipeline)  # doctest: +SKIP
>>> project.lineage(f"run:{result.run.id}")  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.config_source import CONFIG_FILE as CONFIG_FILE
from shipyard.config_source import (
    STATE_DIR,
    StoreLocation,
    find_root,
    validated_location,
)
from shipyard.errors import ConfigError, RecordNotFound
from shipyard.store.records import (
    ArtifactRecord,
    DatasetVersionRecord,
    ExecutionRecord,
    ModelRecord,
    RunRecord,
    RunValues,
)

if TYPE_CHECKING:
    # Imported where used: a command that only reads the store (``shipyard runs``)
    # needs neither the pipeline engine, fsspec, the settings' pydantic models nor
    # SQLAlchemy.
    from shipyard.artifacts import ArtifactStore
    from shipyard.config import ProjectConfig, Task
    from shipyard.deployments import Deployments
    from shipyard.deployments.analysis import CanaryAnalysis
    from shipyard.loop import RetrainingLoop
    from shipyard.monitoring import Monitor, MonitorPass
    from shipyard.monitoring.monitor import Progress
    from shipyard.pipeline import Executor, Pipeline, RunResult
    from shipyard.pipeline.comparison import RunComparison
    from shipyard.pipeline.runner import Observer
    from shipyard.prediction_lineage import PredictionLineage
    from shipyard.prediction_log import PredictionLog, PredictionRecord
    from shipyard.registry import LoadedModel, ModelRegistry
    from shipyard.review import Automation, ReviewQueue
    from shipyard.store import LineageGraph, MetadataStore, StoreReader

__all__ = ["Project", "find_root", "load_model"]


class Project:
    """One shipyard project and its metadata and artifact stores."""

    def __init__(
        self,
        root: Path,
        config: ProjectConfig | None = None,
        *,
        location: StoreLocation | None = None,
    ) -> None:
        """``config`` is loaded from ``root`` when first used unless given; ``location``
        (a validated one) lets the store be read before that."""
        self.root = root
        if config is not None:
            self.__dict__["config"] = config
        self._location = location
        self._reader: StoreReader | None = None

    @classmethod
    def open(cls, folder: Path | str = ".") -> Project:
        """Open the project holding ``folder`` (searching upwards, like git).

        Its settings are validated here, unless these very settings were validated
        before (``config_source``): then they are loaded when first used, and reading
        the store needs neither pydantic nor SQLAlchemy.
        """
        root = find_root(Path(folder))
        location = validated_location(root)
        if location is None:
            from shipyard.config import load_config

            return cls(root, load_config(root))
        return cls(root, location=location)

    @cached_property
    def config(self) -> ProjectConfig:
        """The project's validated settings (``shipyard.yaml`` and ``SHIPYARD_*``)."""
        from shipyard.config import load_config

        return load_config(self.root)

    @classmethod
    def init(
        cls,
        folder: Path | str = ".",
        *,
        name: str | None = None,
        data: Path | str | None = None,
        target: str | None = None,
        task: Task | None = None,
        model_name: str | None = None,
        estimator: str | None = None,
    ) -> Project:
        """Create ``shipyard.yaml`` and ``.shipyard/`` in ``folder``.

        With ``data`` and ``target`` the project gets a standard pipeline: the model is
        named after the data file (``credit.csv`` makes ``credit``) unless ``model_name``
        says otherwise, and the task is inferred from the target unless given.
        ``estimator`` is a short name (``lightgbm``, ``xgboost``, ... see
        ``shipyard.modeling.ESTIMATORS``) or a dotted class path (default: histogram
        gradient boosting).
        """
        from shipyard.config import ProjectConfig, load_config, render_config, safe_name

        root = Path(folder).resolve()
        path = root / CONFIG_FILE
        if path.exists():
            raise ConfigError(f"{path} already exists; this folder is already a project")
        project_name = name or safe_name(root.name) or "project"
        if data is None:
            if target is not None or task is not None:
                raise ConfigError("target and task describe the data; give data too")
            if estimator is not None:
                raise ConfigError("the estimator learns from the data; give data too")
            config = ProjectConfig(name=project_name)
        else:
            if target is None:
                raise ConfigError("data needs a target: the column the model predicts")
            # The standard pipeline's modules load pandas and scikit-learn: only when needed.
            from shipyard.components.configuration import standard_config

            config = standard_config(
                project_name,
                root=root,
                data=Path(data),
                target=target,
                task=task,
                model_name=model_name,
                estimator=estimator,
            )
        root.mkdir(parents=True, exist_ok=True)
        (root / STATE_DIR).mkdir(exist_ok=True)
        path.write_text(render_config(config), encoding="utf-8")
        project = cls(root, load_config(root))
        project.store  # noqa: B018 - create and migrate the database now
        return project

    @cached_property
    def store(self) -> MetadataStore:
        """The metadata store: every write, and the reads beyond ``reader``'s."""
        from shipyard.store import MetadataStore

        return MetadataStore(self.config.store.database, root=self.root, project=self.config.name)

    @property
    def reader(self) -> StoreReader:
        """The store's read-only queries: the store's own once it is open, else ones on
        plain connections of their own (the commands that only read never import the
        ORM); the store opens when the schema is missing or older than this shipyard's
        migrations, which it upgrades."""
        if "store" in self.__dict__:
            return self.store.reader
        if self._reader is None:
            from shipyard.store.reader import StoreReader

            location = self._location or StoreLocation(
                self.config.name, self.config.store.database, self.config.store.artifacts
            )
            opened = StoreReader.open(location.database, root=self.root, project=location.project)
            if opened is None:
                return self.store.reader
            self._reader = opened
        return self._reader

    @cached_property
    def registry(self) -> ModelRegistry:
        """The model registry of this project."""
        from shipyard.registry import ModelRegistry

        cache = self.config.registry
        return ModelRegistry(
            self.store,
            self.artifacts,
            cache_versions=cache.cache_versions,
            cache_bytes=cache.cache_bytes,
        )

    @cached_property
    def deployments(self) -> Deployments:
        """The deployments of this project's models: deploy, promote, roll back."""
        from shipyard.deployments import Deployments

        return Deployments(
            self.store, self.registry, self.config.deployments, log=self.prediction_log()
        )

    def canary_analysis(
        self, *, owner: str | None = None, lease_seconds: float = 30.0
    ) -> CanaryAnalysis:
        """The automatic canary analysis over this project's deployments: ``run_once``
        for one pass, ``watch`` to keep going (see ``shipyard.deployments.analysis``)."""
        from shipyard.deployments.analysis import CanaryAnalysis

        return CanaryAnalysis(self.deployments, owner=owner, lease_seconds=lease_seconds)

    @cached_property
    def automation(self) -> Automation:
        """Each model's automation level (full, partial, assist, shadow) and its history."""
        from shipyard.review import Automation

        return Automation(self.store, self.registry, self.config.automation)

    @cached_property
    def review(self) -> ReviewQueue:
        """The review queue: claim, label, skip, adjudicate; statistics and guidelines."""
        from shipyard.review import ReviewQueue

        return ReviewQueue(
            self.store,
            self.registry,
            self.config.review,
            self.automation,
            root=self.root,
            log=self.prediction_log(),
        )

    @cached_property
    def monitor(self) -> Monitor:
        """Monitoring of this project's models: ``run_once`` for one pass, ``watch``."""
        from shipyard.monitoring import Monitor

        return Monitor(
            self.store,
            self.artifacts,
            self.registry,
            self.prediction_log(),
            self.config.monitoring,
            project=self.config.name,
        )

    def monitor_pass(
        self, model: str | None = None, *, progress: Progress | None = None
    ) -> MonitorPass:
        """One pass of everything that watches served models: review items past their
        time expire, canary analyses take the steps that are due, and the monitoring
        windows that are due are computed, with their alerts (``progress`` hears of
        each window, as ``Monitor.run_once`` says); then the retraining loop takes the
        steps that are due (``result.loop``)."""
        self.review.expire()
        self.canary_analysis().run_once(model)
        result = self.monitor.run_once(model, progress=progress)
        result.loop = self.loop.run_once(model)
        return result

    @cached_property
    def loop(self) -> RetrainingLoop:
        """The retraining loop of the project's model (``loop`` in ``shipyard.yaml``)."""
        from shipyard.loop import RetrainingLoop

        return RetrainingLoop(
            self.store,
            self.artifacts,
            self.registry,
            self.deployments,
            self.prediction_log(),
            self.config,
            root=self.root,
            run=self.run,
        )

    def watch(
        self,
        model: str | None = None,
        *,
        passes: int | None = None,
        on_pass: Callable[[MonitorPass], None] | None = None,
    ) -> None:
        """``monitor_pass`` every ``monitoring.interval_seconds``, ``passes`` times or
        until interrupted; ``on_pass`` sees each result."""
        import time

        done = 0
        while passes is None or done < passes:
            started = time.monotonic()
            result = self.monitor_pass(model)
            done += 1
            if on_pass is not None:
                on_pass(result)
            if passes is None or done < passes:
                interval = self.config.monitoring.interval_seconds
                time.sleep(max(0.0, interval - (time.monotonic() - started)))

    @cached_property
    def artifacts(self) -> ArtifactStore:
        from shipyard.artifacts import ArtifactStore

        url = self._location.artifacts if self._location else self.config.store.artifacts
        if "://" not in url and not Path(url).is_absolute():
            url = str(self.root / url)
        return ArtifactStore(url, cache_dir=self.root / STATE_DIR / "cache")

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- running --------------------------------------------------------------------

    def run(
        self,
        pipeline: Pipeline,
        *,
        cache: bool | None = None,
        workers: int | None = None,
        observer: Observer | None = None,
        executor: Executor | None = None,
    ) -> RunResult:
        """Run ``pipeline``; ``cache`` and ``workers`` default to ``shipyard.yaml``, and so
        does where the steps run (a local pool, or a Dask cluster).

        ``executor`` runs the steps instead (``workers`` is then its own), and is left
        running: a caller that runs many pipelines keeps one ``LocalExecutor`` for all,
        and its workers keep what they imported (scikit-learn, pandas: seconds each run)
        from one run to the next.  Its workers started with the environment and the code
        of their day: a changed environment variable or component module needs a new
        executor.

        >>> with LocalExecutor() as pool:  # doctest: +SKIP
        ...     for project in projects:
        ...         project.run(project.standard_pipeline(), executor=pool)
        """
        from shipyard.pipeline import Runner

        settings = self.config.pipeline
        workers = workers or settings.workers
        own_executor = executor is None and settings.executor == "dask"
        if own_executor:
            from shipyard.pipeline.dask_executor import DaskExecutor

            executor = DaskExecutor(workers, scheduler=settings.scheduler)
        runner = Runner(
            self.store,
            self.artifacts,
            executor=executor,
            workers=workers,
            cache=settings.cache if cache is None else cache,
            observer=observer,
            code_folder=self.root,
        )
        try:
            return runner.run(pipeline)
        finally:
            if own_executor and executor is not None:
                executor.shutdown()

    def standard_pipeline(self) -> Pipeline:
        """The project's standard pipeline, as ``shipyard.yaml`` describes it.

        With ``data.include_feedback``, the labelled predictions of the project's model
        are snapshot first (``feedback_snapshot``) and join the training split.
        """
        from shipyard.components.standard import standard_pipeline

        data = self.config.data
        snapshot = self.feedback_snapshot() if data and data.include_feedback else None
        return standard_pipeline(
            self.config,
            root=self.root,
            store=self.store,
            registry=self.registry,
            feedback=None if snapshot is None else snapshot[0],
            feedback_digest=None if snapshot is None else snapshot[1],
        )

    def feedback_snapshot(self) -> tuple[Path, str] | None:
        """The labelled predictions of the project's model as rows of its data, stored.

        Returns a local Parquet file in the artifact store and its digest (the same
        labels make the same file), or ``None`` when no prediction has a label yet.  The
        rows have the source table's columns and dtypes, plus ``prediction_id`` and
        ``label_source``; a label or input that cannot be cast is a ``DataError`` naming
        its predictions, raised before anything is stored.
        """
        from shipyard.components.standard import feedback_snapshot

        labelled = self.prediction_log().labelled_rows(self.config.model_name)
        return feedback_snapshot(
            labelled, config=self.config, root=self.root, artifacts=self.artifacts
        )

    def runs(
        self,
        *,
        limit: int = 50,
        pipeline: str | None = None,
        status: str | None = None,
        offset: int = 0,
        experiment: str | None = None,
        parent_id: int | None = None,
    ) -> list[RunRecord]:
        """Runs newest first, filtered by ``pipeline``, ``experiment`` and ``status``,
        ``offset`` skipped; the children of run ``parent_id`` (trials, nested runs) when
        given, else only runs that are not nested.  Runs of this host whose process died
        are marked ``crashed`` first."""
        if self.reader.abandoned_runs():
            self.store.mark_crashed_runs()
        return self.reader.list_runs(
            limit=limit,
            pipeline=pipeline,
            status=status,
            offset=offset,
            experiment=experiment,
            parent_id=parent_id,
        )

    def run_record(self, run_id: int) -> RunRecord:
        return self.reader.get_run(run_id)

    def run_steps(self, run_id: int) -> list[ExecutionRecord]:
        return self.reader.run_executions(run_id)

    def run_values(self, run_id: int) -> RunValues:
        """What run ``run_id`` logged: parameters, each metric's last value, and tags."""
        self.store.get_run(run_id)
        return RunValues(
            params=self.store.tracking.params(run_id),
            metrics=self.store.tracking.latest_metrics(run_id),
            tags=self.store.get_properties("run", run_id),
        )

    def metric_history(self, run_id: int, key: str) -> list[tuple[int | None, float, datetime]]:
        """Every logged point of metric ``key`` of a run: (step, value, time), in order."""
        self.store.get_run(run_id)
        return self.store.tracking.history(run_id, key)

    def latest_metrics(self, run_ids: Sequence[int]) -> dict[int, dict[str, float]]:
        """The last value of each metric of each run, for a table of runs."""
        return self.reader.latest_metrics_of(run_ids)

    def compare_runs(self, run_ids: Sequence[int]) -> RunComparison:
        """Runs side by side: code, data versions, parameters and metrics."""
        from shipyard.pipeline.comparison import compare_runs

        return compare_runs(self.store, run_ids)

    # -- datasets -------------------------------------------------------------------

    def dataset_versions(self, name: str | None = None) -> list[DatasetVersionRecord]:
        """Versions of every dataset (or of dataset ``name``), newest first."""
        return self.reader.dataset_versions(name)

    def dataset_version(self, version_id: int) -> DatasetVersionRecord:
        return self.reader.dataset_version(version_id)

    # -- models ---------------------------------------------------------------------

    def models(self) -> list[ModelRecord]:
        """Registered models by name, with their newest version and aliases (what
        ``registry.models()`` lists, read without opening the registry)."""
        return self.reader.list_models()

    # -- lineage --------------------------------------------------------------------

    def resolve(self, ref: str) -> ArtifactRecord | RunRecord | PredictionRecord:
        """Find what a reference names.

        ``run:12`` or ``12`` is a run; ``artifact:7`` an artifact; ``sha256:ab12..`` or
        a hex digest prefix of at least 6 characters an artifact by content; a model
        reference (``ames@production``, ``ames:3``) the package of that model version;
        ``prediction:ID``, or an id no artifact's digest starts with, a logged prediction.
        """
        import re

        kind, _, value = ref.partition(":")
        if kind == "prediction" and value:
            return self.prediction(value)
        if "@" in ref or (value.isdigit() and kind not in ("run", "artifact")):
            return self.registry.resolve(ref).package
        if not value:
            kind, value = ("run", ref) if ref.isdigit() else ("sha256", ref)
        if kind in ("run", "artifact") and value.isdigit():
            if kind == "run":
                return self.reader.get_run(int(value))
            return self.reader.get_artifact(int(value))
        if kind == "sha256" and re.fullmatch(r"[0-9a-f]{6,64}", value):
            found = self.reader.find_artifacts(value)
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise RecordNotFound(
                    f"'{ref}' matches {len(found)} artifacts; give more digest characters"
                )
            if ref != value:
                raise RecordNotFound(f"no artifact's digest starts with '{value}'")
        if ":" not in ref and self._logged(ref):
            return self.prediction(ref)
        if kind == "sha256" and re.fullmatch(r"[0-9a-f]{6,64}", value):
            raise RecordNotFound(
                f"no artifact's digest starts with '{value}' and no logged prediction has "
                "that id; `shipyard predictions` lists prediction ids"
            )
        raise RecordNotFound(
            f"cannot understand reference '{ref}'; use run:ID, artifact:ID, a digest prefix, "
            "a model (NAME@ALIAS, NAME:VERSION) or a prediction id (prediction:ID)"
        )

    def lineage(self, ref: str, *, direction: str = "upstream") -> LineageGraph | PredictionLineage:
        """Where a run, an artifact or a prediction came from (or what an artifact made).

        A prediction's lineage is a ``PredictionLineage``: its model version, run,
        dataset version, code version and the steps between; the others are graphs.
        """
        from shipyard.store.lineage import downstream, upstream

        target = self.resolve(ref)
        if direction == "downstream":
            if not isinstance(target, ArtifactRecord):
                raise RecordNotFound(
                    "downstream lineage starts from an artifact, not a run or a prediction"
                )
            return downstream(self.reader, target)
        if isinstance(target, RunRecord):
            return upstream(self.reader, target.id)
        if isinstance(target, ArtifactRecord):
            return upstream(self.reader, target)
        return self._trace(target)

    # -- predictions ----------------------------------------------------------------

    def prediction_log(self, **options: Any) -> PredictionLog:
        """The prediction log of this project, spooling under ``.shipyard/spool/``;
        ``options`` are ``PredictionLog``'s (rotation and segment sizes)."""
        from shipyard.prediction_log import PredictionLog, spool_folder

        return PredictionLog(
            self.store.predictions, self.artifacts, spool_folder(self.root), **options
        )

    def newest_predictions(
        self,
        *,
        model: str | None = None,
        since: datetime | None = None,
        limit: int | None = 100,
    ) -> list[dict[str, Any]]:
        """The newest ``limit`` logged predictions (all, given None) at or after
        ``since``, newest first, as dicts of plain values keyed like ``read``'s columns.

        What ``shipyard predictions`` lists: it reads the store through ``reader`` and
        needs neither pandas nor the ORM.

        >>> project.newest_predictions(model="ames", limit=10)[0]["prediction"]  # doctest: +SKIP
        """
        from shipyard.prediction_log.newest import newest_predictions
        from shipyard.prediction_log.spool import spool_folder
        from shipyard.prediction_log.window import check_aware

        check_aware(since, "since")
        return newest_predictions(
            spool_folder(self.root),
            self.reader.prediction_segments(model=model, since=since),
            lambda digest: self.artifacts.materialize(digest, "file"),
            model=model,
            since=since,
            limit=limit,
        )

    def _logged(self, prediction_id: str) -> bool:
        return bool(self.prediction_log().find([prediction_id]))

    def prediction(self, prediction_id: str) -> PredictionRecord:
        """The logged prediction with this id (as ``POST /predict`` returned it)."""
        from shipyard.prediction_lineage import find_prediction

        return find_prediction(self.prediction_log(), prediction_id)

    def prediction_lineage(self, prediction_id: str) -> PredictionLineage:
        """A prediction's model version, run, dataset version, code version and steps.

        >>> project.prediction_lineage(answer["prediction_ids"][0])  # doctest: +SKIP
        """
        return self._trace(self.prediction(prediction_id))

    def _trace(self, prediction: PredictionRecord) -> PredictionLineage:
        from shipyard.prediction_lineage import trace_prediction

        return trace_prediction(prediction, store=self.store, registry=self.registry)


def load_model(ref: str, *, folder: Path | str = ".") -> LoadedModel:
    """Load a registered model of the project holding ``folder``.

    >>> model = load_model("ames@production")  # doctest: +SKIP
    >>> model.predict(frame).values  # doctest: +SKIP
    """
    with Project.open(folder) as project:
        return project.registry.load(ref)
