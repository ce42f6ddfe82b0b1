"""Tuner: searches the Trainer's estimator parameters before it trains (TFX's Tuner).

The search is an Optuna study scored by cross-validation on the training split only;
the eval split stays unseen until the Evaluator.  The study is kept in the working
folder of the step's fingerprint, so its trials run in the pipeline's worker processes
together and a run killed half-way resumes it; a finished study is a cached step like any
other (same data, space and settings: no new trials).
"""

from __future__ import annotations

import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from shipyard.components.payloads import TuningPayload
from shipyard.components.training import labelled_rows, sampled_split, target_values
from shipyard.components.types import Examples, TransformGraph, TuningReport
from shipyard.config import TUNING_METRICS, Task, TunerSettings
from shipyard.errors import ConfigError, DataError, PipelineError
from shipyard.pipeline import (
    Component,
    Input,
    Output,
    PublishContext,
    current_step,
    log_metric,
    log_param,
    log_params,
)
from shipyard.store.records import FinishedRun

__all__ = ["Tuner"]


def tuner_settings(settings: dict[str, Any], *, task: Task) -> TunerSettings:
    """``tuner`` settings validated as ``shipyard.yaml`` would be."""
    found = TunerSettings.from_settings(settings)
    if found.metric is not None and found.metric not in TUNING_METRICS[task]:
        raise ConfigError(
            f"tuner.metric '{found.metric}' is not a {task} metric; use one of "
            + ", ".join(TUNING_METRICS[task])
        )
    return found


class Tuner(Component):
    """Finds the estimator parameters that score best in cross-validation.

    ``settings`` are the ``tuner`` section of ``shipyard.yaml`` (``TunerSettings``); the
    searched parameters join ``params`` (the fixed ``model.params``).  The output holds
    the best parameters and every trial: number, parameters, state, score (the mean over
    the folds), fold scores and seconds.
    """

    examples: Input[Examples]
    transform: Input[TransformGraph]
    tuning: Output[TuningReport]
    task: Task
    target: str
    estimator: str | None = None
    params: dict[str, Any] = {}
    seed: int = 0
    settings: dict[str, Any] = {}
    max_rows: int | None = None

    def run(self) -> None:
        import numpy as np

        from shipyard.data.transform import FittedTransform
        from shipyard.modeling.estimators import build_estimator, encodes_labels, estimator_path
        from shipyard.modeling.tuning import TuningJob, check_space, default_metric, tune

        settings = tuner_settings(self.settings, task=self.task)
        path = estimator_path(self.estimator, task=self.task)
        check_space(settings.space, estimator=path, task=self.task)
        train = labelled_rows(
            sampled_split(self.examples.path, "train", max_rows=self.max_rows, seed=self.seed),
            self.target,
        )
        labels = target_values(train, self.target, self.task)
        probe = build_estimator(path, task=self.task, params=self.params, seed=self.seed)
        if self.task == "classification" and encodes_labels(probe):
            labels = np.unique(labels, return_inverse=True)[1]  # XGBoost: class indices
        fitted = FittedTransform.from_dict(json.loads(self.transform.path.read_text()))
        job = TuningJob(
            task=self.task,
            estimator=path,
            space=dict(settings.space),
            metric=settings.metric or default_metric(self.task),
            trials=settings.trials,
            folds=settings.folds,
            prune=settings.prune,
            seed=settings.seed,
            model_seed=self.seed,
            timeout=settings.timeout,
            params={k: v for k, v in self.params.items() if k not in settings.space},
        )
        try:
            step = current_step()
        except PipelineError:  # called outside a pipeline: a study of its own, one process
            with tempfile.TemporaryDirectory(prefix="shipyard-tuner-") as folder:
                result = tune(job, train, labels, fitted.spec, folder=Path(folder))
        else:
            result = tune(
                job, train, labels, fitted.spec, folder=step.work_folder(), processes=step.workers
            )
        if result.best_trial is None:
            errors = [t.error for t in result.trials if t.error]
            raise DataError(
                f"no trial of the Tuner's {len(result.trials)} completed"
                + (f"; the first failed with {errors[0]}" if errors else "")
                + " — check tuner.space against the estimator's parameters"
            )
        TuningPayload(result).write(self.tuning.path)
        log_param("tuner.metric", result.metric)
        log_params({f"tuned.{key}": value for key, value in result.best_params.items()})
        assert result.best_score is not None
        log_metric(f"tuned_cv_{result.metric}", result.best_score)
        log_metric("tuner_trials", len(result.trials))
        self.tuning.properties.update(
            metric=result.metric,
            best_score=result.best_score,
            best_trial=result.best_trial,
            trials=len(result.trials),
            pruned=sum(1 for t in result.trials if t.state == "pruned"),
            failed=sum(1 for t in result.trials if t.state == "failed"),
            timed_out=result.timed_out,
        )

    def publish(self, context: PublishContext) -> None:
        """Record each trial as a run nested in the pipeline run (not on a cache hit: the
        trials belong to the run that made them).

        A trial run logs the searched parameters and ``state`` (complete, pruned or
        failed) as parameters; ``cv_METRIC`` (the mean over the folds, complete trials
        only) and ``fold_METRIC`` at step = fold index as metrics.  A pruned trial
        succeeded (it was stopped on purpose); a failed one carries its error.
        """
        if context.cached:
            return
        digest = context.outputs["tuning"].digest
        result = TuningPayload.from_bytes(context.artifacts.read_bytes(digest)).result
        now = datetime.now(UTC)
        runs = []
        for trial in result.trials:
            started = now if trial.started is None else datetime.fromisoformat(trial.started)
            metrics: list[tuple[str, float, int | None]] = [
                (f"fold_{result.metric}", score, fold)
                for fold, score in enumerate(trial.fold_scores)
            ]
            if trial.score is not None:
                metrics.append((f"cv_{result.metric}", trial.score, None))
            runs.append(
                FinishedRun(
                    pipeline=context.run.pipeline,
                    status="failed" if trial.state == "failed" else "succeeded",
                    started_at=started,
                    finished_at=started + timedelta(seconds=trial.seconds or 0.0),
                    host=context.run.host,
                    error=trial.error,
                    kind="trial",
                    experiment=context.run.experiment,
                    name=f"trial {trial.number}",
                    parent_id=context.run.id,
                    logged_params={**trial.params, "state": trial.state},
                    logged_metrics=tuple(metrics),
                )
            )
        context.store.record_runs(runs)
