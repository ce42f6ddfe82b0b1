"""Hyperparameter search: an Optuna study of an estimator's parameters, scored by
cross-validation on the training split (the eval split never takes part).

A study lives in a journal file (Optuna's ``JournalStorage``) in a folder that belongs to
the Tuner step's fingerprint, so that several processes optimize it together and a run
killed half-way resumes it: trials that had finished are kept, trials cut off are marked
failed and not counted, and only the remaining ones run.

Each process samples with its own seeded TPE sampler (the seed, the process's index and
the trials already done make its seed: a resumed study does not repeat its first points)
and reports the running mean of the fold scores after each fold, so that the median
pruner can stop a trial that is already worse than most.  Optuna is imported here only,
by the processes that tune.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import time
from collections.abc import Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import threadpoolctl

from shipyard.config import TUNING_METRICS, ParameterRange, Task
from shipyard.errors import ConfigError, DataError, ShipyardError

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from shipyard.data.transform import TransformSpec

__all__ = [
    "STUDY_FILE",
    "TrialRecord",
    "TuningJob",
    "TuningResult",
    "check_space",
    "default_metric",
    "direction_of",
    "tune",
]

STUDY_FILE = "study.journal"
STUDY_NAME = "tuner"
Direction = Literal["minimize", "maximize"]
TrialState = Literal["complete", "pruned", "failed"]
_INTERRUPTED = "shipyard_interrupted"


def default_metric(task: Task) -> str:
    """What the Tuner optimizes when ``tuner.metric`` is not set."""
    return TUNING_METRICS[task][0]


def direction_of(metric: str) -> Direction:
    from shipyard.modeling.metrics import HIGHER_IS_BETTER

    return "maximize" if metric in HIGHER_IS_BETTER else "minimize"


def check_space(space: Mapping[str, ParameterRange], *, estimator: str, task: Task) -> None:
    """Raise ``ConfigError`` naming a searched parameter the estimator does not take."""
    from shipyard.modeling.estimators import estimator_class

    cls = estimator_class(estimator)
    accepted = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values()):
        return  # LightGBM, XGBoost: any keyword goes through
    from shipyard.errors import did_you_mean

    known = [name for name in accepted if name != "self"]
    for name in space:
        if name not in accepted:
            raise ConfigError(
                f"tuner.space.{name}: {cls.__name__} takes no parameter '{name}'"
                + did_you_mean(name, known)
                + "; it takes "
                + ", ".join(known)
            )


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial: its parameters, mean cross-validated score and fold scores."""

    number: int
    params: dict[str, Any]
    state: TrialState
    score: float | None
    fold_scores: list[float]
    started: str | None  # ISO time (UTC)
    seconds: float | None
    worker: int | None = None  # which of the processes optimizing the study ran it
    error: str | None = None


@dataclass(frozen=True)
class TuningResult:
    """What a study found: the best parameters (over the base ones) and every trial."""

    metric: str
    direction: Direction
    best_params: dict[str, Any]
    best_score: float | None
    best_trial: int | None
    trials: list[TrialRecord]
    interrupted: int = 0  # trials cut off by a crash: not counted, not listed
    timed_out: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningResult:
        return cls(
            metric=data["metric"],
            direction=data["direction"],
            best_params=dict(data["best_params"]),
            best_score=data["best_score"],
            best_trial=data["best_trial"],
            trials=[TrialRecord(**trial) for trial in data["trials"]],
            interrupted=data.get("interrupted", 0),
            timed_out=data.get("timed_out", False),
        )


@dataclass(frozen=True)
class TuningJob:
    """Everything a tuning process needs; picklable, sent to each of them."""

    task: Task
    estimator: str
    space: dict[str, ParameterRange]
    metric: str
    trials: int
    folds: int
    prune: bool = True
    seed: int = 0
    model_seed: int = 0
    timeout: float | None = None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def direction(self) -> Direction:
        return direction_of(self.metric)


@dataclass(frozen=True)
class _Fold:
    train_x: Any
    train_y: np.ndarray[Any, Any]
    valid_x: Any
    valid_y: np.ndarray[Any, Any]


def _folds(
    frame: pd.DataFrame, labels: np.ndarray[Any, Any], spec: TransformSpec, *, job: TuningJob
) -> list[_Fold]:
    """The cross-validation folds of the training rows, each with a transform learned on
    its own training part (stratified by class when every class has a row per fold)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    from shipyard.data.transform import TransformLearner

    if len(frame) < job.folds * 2:
        raise DataError(
            f"the training split has {len(frame)} labelled rows, too few for "
            f"{job.folds} folds; lower tuner.folds or add data"
        )
    splitter: Any = KFold(job.folds, shuffle=True, random_state=job.seed)
    if job.task == "classification":
        _, counts = np.unique(labels.astype(str), return_counts=True)
        if counts.min() >= job.folds:
            splitter = StratifiedKFold(job.folds, shuffle=True, random_state=job.seed)
    folds = []
    for train_index, valid_index in splitter.split(np.zeros(len(labels)), labels):
        train_rows = frame.iloc[train_index]
        fitted = TransformLearner(spec).fit(train_rows)
        folds.append(
            _Fold(
                train_x=fitted.transform_frame(train_rows),
                train_y=labels[train_index],
                valid_x=fitted.transform_frame(frame.iloc[valid_index]),
                valid_y=labels[valid_index],
            )
        )
    return folds


def _suggest(trial: optuna.Trial, name: str, spec: ParameterRange) -> Any:
    kind = spec.distribution
    if kind == "choice":
        assert spec.choice is not None
        return trial.suggest_categorical(name, spec.choice)
    low, high = spec.bounds
    if kind in ("int", "log_int"):
        return trial.suggest_int(name, int(low), int(high), log=kind == "log_int")
    return trial.suggest_float(name, low, high, log=kind == "log_uniform")


def _score(job: TuningJob, estimator: Any, fold: _Fold) -> float:
    from shipyard.modeling.metrics import task_metrics

    predicted = estimator.predict(fold.valid_x)
    probabilities = classes = None
    if job.task == "classification":
        probabilities = np.asarray(estimator.predict_proba(fold.valid_x), dtype=np.float64)
        classes = list(estimator.classes_)
    found = task_metrics(job.task, fold.valid_y, predicted, probabilities, classes)
    if job.metric not in found:
        raise DataError(f"{job.metric} is undefined on a validation fold of this data")
    value = found[job.metric]
    if not math.isfinite(value):
        raise DataError(f"{job.metric} is {value} on a validation fold")
    return value


def _fit(estimator: Any, fold: _Fold) -> None:
    try:
        estimator.fit(fold.train_x, fold.train_y)
    except Exception as exc:
        # LightGBM and XGBoost raise errors of their own for parameters they refuse.
        library = type(exc).__module__.startswith(("lightgbm.", "xgboost."))
        if not (library or isinstance(exc, ValueError | TypeError)):
            raise
        raise DataError(f"{type(estimator).__name__} could not be fitted: {exc}") from exc


def _objective(job: TuningJob, folds: list[_Fold], worker: int) -> Any:
    import optuna

    from shipyard.modeling.estimators import build_estimator

    def objective(trial: optuna.Trial) -> float:
        trial.set_user_attr("worker", worker)
        chosen = {name: _suggest(trial, name, spec) for name, spec in job.space.items()}
        scores: list[float] = []
        try:
            for index, fold in enumerate(folds):
                estimator = build_estimator(
                    job.estimator,
                    task=job.task,
                    params={**job.params, **chosen},
                    seed=job.model_seed,
                )
                _fit(estimator, fold)
                scores.append(_score(job, estimator, fold))
                trial.set_user_attr("fold_scores", scores)
                trial.report(float(np.mean(scores)), step=index)
                if job.prune and trial.should_prune():
                    raise optuna.TrialPruned()
        except (ShipyardError, ValueError, TypeError, ArithmeticError) as exc:
            trial.set_user_attr("error", f"{type(exc).__name__}: {exc}")
            raise
        return float(np.mean(scores))

    return objective


def _storage(path: Path) -> Any:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    return JournalStorage(JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path))))


def _optimize(
    job: TuningJob,
    frame: pd.DataFrame,
    labels: np.ndarray[Any, Any],
    spec: TransformSpec,
    *,
    path: Path,
    worker: int,
    trials: int,
    sampler_seed: int,
    deadline: float | None,
) -> None:
    """Run ``trials`` trials of the study at ``path`` in this process, the ``worker``-th."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    folds = _folds(frame, labels, spec, job=job)
    startup = min(10, max(2, job.trials // 3))
    study = optuna.load_study(
        study_name=STUDY_NAME,
        storage=_storage(path),
        sampler=optuna.samplers.TPESampler(seed=sampler_seed, n_startup_trials=startup),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=min(5, startup)),
    )
    timeout = None if deadline is None else max(0.0, deadline - time.time())
    if timeout == 0.0:
        return
    study.optimize(
        _objective(job, folds, worker),
        n_trials=trials,
        timeout=timeout,
        catch=(ShipyardError, ValueError, TypeError, ArithmeticError),
    )


def _thread_share(processes: int) -> int:
    """Native threads (OpenMP, BLAS) for each of ``processes`` tuning side by side: their
    share of the cores, or fewer when fewer were chosen for this process."""
    from shipyard.pipeline.executors import THREAD_VARIABLES, cores

    chosen = [
        int(os.environ[name]) for name in THREAD_VARIABLES if os.environ.get(name, "").isdigit()
    ]
    return max(1, min([cores() // processes, *chosen]))


def _start_process(processes: int, threads: int, parent: int) -> None:
    from shipyard.pipeline.executors import THREAD_VARIABLES, prepare_worker

    prepare_worker(processes, parent)
    for name in THREAD_VARIABLES:
        os.environ[name] = str(threads)
    threadpoolctl.threadpool_limits(threads)


def _counted(trial: optuna.trial.FrozenTrial) -> bool:
    from optuna.trial import TrialState as State

    if trial.state in (State.COMPLETE, State.PRUNED):
        return True
    return trial.state == State.FAIL and not trial.system_attrs.get(_INTERRUPTED)


def _shares(total: int, processes: int) -> list[int]:
    """``total`` trials dealt to at most ``processes`` processes, none getting zero."""
    count = max(1, min(processes, total))
    return [total // count + (1 if index < total % count else 0) for index in range(count)]


def tune(
    job: TuningJob,
    frame: pd.DataFrame,
    labels: np.ndarray[Any, Any],
    spec: TransformSpec,
    *,
    folder: Path,
    processes: int = 1,
) -> TuningResult:
    """Run (or resume) the study kept in ``folder`` until it holds ``job.trials`` finished
    trials or ``job.timeout`` seconds have passed; ``processes`` optimize it together.

    ``frame`` holds the labelled training rows, ``labels`` their targets, ``spec`` the
    transform to learn on each fold's training part.
    """
    import multiprocessing

    import optuna
    from optuna.storages.journal import JournalFileOpenLock
    from optuna.trial import TrialState as State

    from shipyard.pipeline.executors import start_method

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if multiprocessing.current_process().daemon:
        processes = 1  # a Dask worker's process may not start processes of its own
    path = folder / STUDY_FILE
    # A process killed while it wrote leaves the lock behind; nothing else holds it now
    # (the runner's claim on the fingerprint keeps other runs away).
    with contextlib.suppress(RuntimeError):
        JournalFileOpenLock(str(path)).release()
    storage = _storage(path)
    study = optuna.create_study(
        study_name=STUDY_NAME, storage=storage, direction=job.direction, load_if_exists=True
    )
    study_id = storage.get_study_id_from_name(STUDY_NAME)
    for trial in study.get_trials(deepcopy=False):
        if trial.state in (State.RUNNING, State.WAITING):
            trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, trial.number)
            storage.set_trial_system_attr(trial_id, _INTERRUPTED, True)
            storage.set_trial_state_values(trial_id, State.FAIL)
    done = sum(_counted(trial) for trial in study.get_trials(deepcopy=False))
    remaining = job.trials - done
    started = time.time()
    deadline = None if job.timeout is None else started + job.timeout
    if remaining > 0:
        shares = _shares(remaining, processes)
        # Processes spinning for each other's cores turn a second's fit into a minute's.
        threads = _thread_share(len(shares))
        seeds = np.random.SeedSequence([job.seed, done]).generate_state(len(shares))
        futures: list[Future[None]] = []
        pool = None
        if len(shares) > 1:
            pool = ProcessPoolExecutor(
                max_workers=len(shares) - 1,
                mp_context=multiprocessing.get_context(start_method()),
                initializer=_start_process,
                initargs=(len(shares), threads, os.getpid()),
            )
        try:
            for worker, (share, seed) in enumerate(zip(shares, seeds, strict=True)):
                if worker == 0:
                    continue  # this process's share, run below
                assert pool is not None
                futures.append(
                    pool.submit(
                        _optimize,
                        job,
                        frame,
                        labels,
                        spec,
                        path=path,
                        worker=worker,
                        trials=share,
                        sampler_seed=int(seed),
                        deadline=deadline,
                    )
                )
            with threadpoolctl.threadpool_limits(threads):
                _optimize(
                    job,
                    frame,
                    labels,
                    spec,
                    path=path,
                    worker=0,
                    trials=shares[0],
                    sampler_seed=int(seeds[0]),
                    deadline=deadline,
                )
            for future in futures:
                future.result()
        finally:
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)
    return _result(job, study.get_trials(deepcopy=False), deadline=deadline)


def _result(
    job: TuningJob, trials: list[optuna.trial.FrozenTrial], *, deadline: float | None
) -> TuningResult:
    from optuna.trial import TrialState as State

    states: dict[State, TrialState] = {
        State.COMPLETE: "complete",
        State.PRUNED: "pruned",
        State.FAIL: "failed",
    }
    records = []
    for trial in trials:
        if not _counted(trial):
            continue
        seconds = None
        if trial.datetime_start is not None and trial.datetime_complete is not None:
            seconds = (trial.datetime_complete - trial.datetime_start).total_seconds()
        records.append(
            TrialRecord(
                number=trial.number,
                params=dict(trial.params),
                state=states[trial.state],
                score=trial.value if trial.state == State.COMPLETE else None,
                fold_scores=list(trial.user_attrs.get("fold_scores", [])),
                # Optuna's times are naive local times.
                started=None
                if trial.datetime_start is None
                else trial.datetime_start.astimezone(UTC).isoformat(),
                seconds=seconds,
                worker=trial.user_attrs.get("worker"),
                error=trial.user_attrs.get("error"),
            )
        )
    complete = [r for r in records if r.state == "complete" and r.score is not None]
    sign = 1.0 if job.direction == "minimize" else -1.0
    ranked = sorted(complete, key=lambda r: (sign * (r.score or 0.0), r.number))
    best = ranked[0] if ranked else None
    interrupted = sum(1 for trial in trials if trial.system_attrs.get(_INTERRUPTED))
    return TuningResult(
        metric=job.metric,
        direction=job.direction,
        best_params={} if best is None else dict(best.params),
        best_score=None if best is None else best.score,
        best_trial=None if best is None else best.number,
        trials=records,
        interrupted=interrupted,
        timed_out=deadline is not None and len(records) < job.trials,
    )
