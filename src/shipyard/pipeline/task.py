"""What an executor runs for one step, wherever it runs.

A ``Task`` carries only references and values (the component's import path, its
parameters, the digests of its inputs, the artifact store's URL), never objects of the
runner: a step may run in another process or on another machine.  The worker fetches its
inputs, calls the component, stores its outputs in the artifact store and answers with a
``TaskResult``; the runner alone writes metadata.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipyard.artifacts import ArtifactStore, Kind
from shipyard.errors import ComponentError
from shipyard.pipeline.component import Component, FunctionComponent, load_component
from shipyard.pipeline.context import StepContext, running_step
from shipyard.pipeline.ports import Input, Output
from shipyard.pipeline.tracking import StepLog, logging_into
from shipyard.store.records import StoredOutput


@dataclass(frozen=True)
class TaskInput:
    digest: str
    kind: Kind
    type_name: str
    properties: dict[str, Any]


@dataclass(frozen=True)
class Task:
    step: str
    component_ref: str
    params: dict[str, Any]
    inputs: dict[str, TaskInput]
    outputs: dict[str, str]  # port -> artifact type name
    artifacts: ArtifactStore
    attempt: int = 1
    fingerprint: str | None = None
    workers: int = 1
    standby: str | None = None  # the address of the step's standby process
    imports: tuple[str, ...] = ()  # slow modules the step imports (Component.imports)


@dataclass(frozen=True)
class TaskResult:
    ok: bool
    outputs: dict[str, StoredOutput] = field(default_factory=dict)
    error: str | None = None
    traceback: str | None = None
    seconds: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)
    metrics: list[tuple[str, float, int | None]] = field(default_factory=list)


def _call(target: Any, arguments: dict[str, Any]) -> None:
    if isinstance(target, FunctionComponent):
        target.fn(**arguments)
    elif isinstance(target, type) and issubclass(target, Component):
        instance = target.__new__(target)
        for name, value in arguments.items():
            setattr(instance, name, value)
        instance.run()
    else:
        raise ComponentError(f"{target!r} is not a component")


def execute_task(task: Task) -> TaskResult:
    """Run one step: fetch inputs, call the component, store its outputs."""
    started = time.perf_counter()
    staging = Path(tempfile.mkdtemp(prefix=f"shipyard-{task.step}-"))
    try:
        target = load_component(task.component_ref)
        arguments: dict[str, Any] = dict(task.params)
        for port, spec in task.inputs.items():
            path = task.artifacts.materialize(spec.digest, spec.kind)
            arguments[port] = Input(
                path, digest=spec.digest, type_name=spec.type_name, properties=spec.properties
            )
        outputs: dict[str, Output[Any]] = {
            port: Output(staging / port, type_name=type_name)
            for port, type_name in task.outputs.items()
        }
        arguments.update(outputs)
        context = StepContext(
            step=task.step,
            fingerprint=task.fingerprint,
            workers=task.workers,
            artifacts=task.artifacts,
            attempt=task.attempt,
            standby=task.standby,
        )
        with logging_into(StepLog()) as log, running_step(context):
            _call(target, arguments)
        stored: dict[str, StoredOutput] = {}
        for port, output in outputs.items():
            if not output.path.exists():
                raise ComponentError(
                    f"step '{task.step}' did not write its output '{port}': create a file "
                    f"or a folder at {port}.path"
                )
            blob = task.artifacts.put(output.path)
            stored[port] = StoredOutput(
                type_name=output.type_name,
                digest=blob.digest,
                kind=blob.kind,
                size=blob.size,
                uri=blob.uri,
                properties=dict(output.properties),
            )
    except Exception as exc:  # a component may raise anything; it is reported, not hidden
        return TaskResult(
            ok=False,
            error=f"{type(exc).__name__}: {exc}",
            traceback=traceback.format_exc(),
            seconds=time.perf_counter() - started,
        )
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TaskResult(
        ok=True,
        outputs=stored,
        seconds=time.perf_counter() - started,
        params=log.params,
        metrics=log.metrics,
    )
