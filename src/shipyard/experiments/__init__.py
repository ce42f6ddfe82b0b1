"""Experiment tracking outside pipelines: runs a script or a notebook starts itself.

>>> import shipyard
>>> with shipyard.start_run("churn", "baseline") as run:  # doctest: +SKIP
...     shipyard.log_params({"alpha": 0.1})
...     for epoch in range(10):
...         shipyard.log_metric("loss", 1 / (epoch + 1), step=epoch)
...     run.log_model(model, data=train, target="churned", register="churn")

A tracked run is a run in the same store as pipeline runs: ``shipyard runs --experiment
churn`` lists them, ``shipyard runs --compare`` sets them side by side with pipeline
runs, and a model it registers is promoted, deployed and monitored like a pipeline's.
"""

from shipyard.experiments.run import (
    FLUSH_POINTS,
    FLUSH_SECONDS,
    TrackedRun,
    active_run,
    log_artifact,
    log_dataset,
    log_model,
    set_tag,
    set_tags,
    start_run,
)

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
