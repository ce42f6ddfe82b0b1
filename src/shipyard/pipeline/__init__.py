"""The pipeline engine: components, DAGs, the runner, caching, retries and executors."""

from shipyard.pipeline.component import (
    Component,
    ComponentSpec,
    OutputRef,
    PublishContext,
    Step,
    component,
)
from shipyard.pipeline.context import Standby, StepContext, current_step
from shipyard.pipeline.dag import Pipeline, load_pipeline
from shipyard.pipeline.executors import Executor, LocalExecutor
from shipyard.pipeline.ports import Input, Output
from shipyard.pipeline.runner import ENGINE_VERSION, Runner, RunResult, StepResult, fingerprint
from shipyard.pipeline.task import Task, TaskResult, execute_task
from shipyard.pipeline.tracking import log_metric, log_metrics, log_param, log_params
from shipyard.pipeline.types import Artifact, Dataset, Metrics, Model

__all__ = [
    "ENGINE_VERSION",
    "Artifact",
    "Component",
    "ComponentSpec",
    "Dataset",
    "Executor",
    "Input",
    "LocalExecutor",
    "Metrics",
    "Model",
    "Output",
    "OutputRef",
    "Pipeline",
    "PublishContext",
    "RunResult",
    "Runner",
    "Standby",
    "Step",
    "StepContext",
    "StepResult",
    "Task",
    "TaskResult",
    "component",
    "current_step",
    "execute_task",
    "fingerprint",
    "load_pipeline",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
]
