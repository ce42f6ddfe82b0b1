"""The runner: executes a pipeline's steps in dependency order, with caching and lineage.

Independent branches run at the same time on the executor.  Before a step runs, its
fingerprint — the component's identity and source, its parameters, the digests of its
inputs and the engine version — is looked up: a successful earlier execution whose outputs
are still stored makes the step a cache hit, recorded as such.  A failing step is retried
as its component allows, then marked failed; the steps that depend on it are skipped and
independent branches finish.

Two identical runs started together do the work once: before executing a cacheable step,
the runner claims its fingerprint in the metadata store.  A runner finding the claim held
by a live run shows the step as ``waiting`` and polls until the claim is released, then
takes the cached result (or, if the holder failed or died, executes the step itself).

Scheduling, cache look-ups, claims and retries share one loop over the DAG, which is why
they are one module rather than several that would pass its state around.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shipyard.artifacts import ArtifactStore
from shipyard.errors import StepFailed
from shipyard.pipeline.component import ComponentSpec, PublishContext, Step
from shipyard.pipeline.context import Standby
from shipyard.pipeline.dag import Pipeline
from shipyard.pipeline.environment import code_version, environment_info
from shipyard.pipeline.executors import Executor, LocalExecutor
from shipyard.pipeline.task import Task, TaskInput, TaskResult
from shipyard.store import ArtifactRecord, ExecutionRecord, RunRecord

if TYPE_CHECKING:
    from shipyard.store import MetadataStore

# Bump when a change to the engine must invalidate every cached result.
ENGINE_VERSION = "1"
DONE = ("succeeded", "cached")
# How often a step waiting for another run's identical step looks again.
CLAIM_POLL_SECONDS = 0.25


def fingerprint(
    spec: ComponentSpec,
    params: dict[str, Any],
    input_digests: dict[str, str],
    extras: dict[str, str] | None = None,
) -> str:
    """The cache key of a step."""
    body = json.dumps(
        {
            "engine": ENGINE_VERSION,
            "component": spec.ref,
            "source": spec.source_digest,
            "params": params,
            "inputs": input_digests,
            "extras": extras or {},
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(body.encode()).hexdigest()


@dataclass
class StepResult:
    """Where one step of a run stands."""

    name: str
    status: str = "pending"
    execution_id: int | None = None
    outputs: dict[str, ArtifactRecord] = field(default_factory=dict)
    attempts: int = 0
    seconds: float | None = None
    error: str | None = None
    traceback: str | None = None
    cached_from: int | None = None


@dataclass
class RunResult:
    """The outcome of ``Runner.run``: the run's record and each step's result."""

    run: RunRecord
    steps: dict[str, StepResult]

    @property
    def succeeded(self) -> bool:
        return self.run.status == "succeeded"

    def names(self, status: str) -> list[str]:
        """Names of the steps that ended with ``status``."""
        return [name for name, step in self.steps.items() if step.status == status]

    def output(self, step: str, port: str) -> ArtifactRecord:
        """The artifact a step produced on one of its output ports."""
        return self.steps[step].outputs[port]

    def raise_for_failure(self) -> None:
        """Raise ``StepFailed`` for the first failed step, if any."""
        for step in self.steps.values():
            if step.status == "failed":
                raise StepFailed(
                    f"step '{step.name}' failed: {step.error}",
                    step=step.name,
                    traceback=step.traceback or "",
                )


Observer = Callable[[StepResult], None]


@dataclass
class _Attempt:
    step: Step
    execution_id: int
    number: int
    started: float
    claim: str | None  # the fingerprint this run claimed for the step, if any
    key: str  # the step's fingerprint


class Runner:
    """Runs pipelines against one project's metadata and artifact stores.

    ``executor`` defaults to a ``LocalExecutor`` with ``workers`` processes;
    ``observer`` is called with a step's result each time its status changes.
    """

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        *,
        workers: int = 2,
        executor: Executor | None = None,
        cache: bool = True,
        observer: Observer | None = None,
        code_folder: Path | None = None,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.executor = executor
        self.workers = workers
        self.cache = cache
        self.observer = observer
        self.code_folder = code_folder or Path.cwd()

    def run(self, pipeline: Pipeline) -> RunResult:
        """Validate and run ``pipeline``; return when every step has ended."""
        params = pipeline.validate()
        self.store.mark_crashed_runs()
        commit, dirty = code_version(self.code_folder)
        run = self.store.start_run(
            pipeline.name,
            params=params,
            code_version=commit,
            code_dirty=dirty,
            environment=environment_info(),
        )
        own_executor = self.executor is None
        executor = self.executor or LocalExecutor(self.workers)
        execution = _RunExecution(self, executor, pipeline, params, run)
        try:
            execution.loop()
        except BaseException:
            self.store.abort_runs([run.id], status="failed", error="the run was interrupted")
            raise
        finally:
            execution.close_standbys()
            if own_executor:
                executor.shutdown()
        self.store.release_steps(run.id)
        failed = execution.failed_steps()
        error = None
        if failed:
            error = "; ".join(f"step '{s.name}' failed: {s.error}" for s in failed)
        self.store.finish_run(run.id, status="failed" if failed else "succeeded", error=error)
        return RunResult(run=self.store.get_run(run.id), steps=execution.results)


class _RunExecution:
    """The state of one run while it executes."""

    def __init__(
        self,
        runner: Runner,
        executor: Executor,
        pipeline: Pipeline,
        params: dict[str, dict[str, Any]],
        run: RunRecord,
    ) -> None:
        self.runner = runner
        self.store = runner.store
        self.executor = executor
        self.pipeline = pipeline
        self.params = params
        self.run = run
        self.order = pipeline.order()
        self.results = {step.name: StepResult(step.name) for step in self.order}
        self.pending = list(self.order)
        self.running: dict[Future[TaskResult], _Attempt] = {}
        self.retries: list[tuple[float, _Attempt]] = []
        # Steps whose fingerprint another live run has claimed: name -> (step, fingerprint).
        self.waiting: dict[str, tuple[Step, str]] = {}
        self.next_poll = 0.0
        # The processes steps asked for (``Step.standby``); None: the step has none.
        self.standbys: dict[str, Standby | None] = {}
        self.prepared = False  # the executor was given the later steps' imports

    def _start_standbys(self) -> None:
        """Ask each pending step whose parents have all started, one still at work, for
        its standby process: its start-up then overlaps their work, and competes with no
        earlier step for the cores.  A step whose parents were all cached starts none."""
        if not self.executor.local:
            return
        for step in self.pending:
            if step.name in self.standbys:
                continue
            parents = [self.results[p.name].status for p in self.pipeline.upstream_of(step)]
            if "pending" in parents or not set(parents) & {"running", "retrying", "waiting"}:
                continue
            self.standbys[step.name] = step.standby()

    def close_standbys(self) -> None:
        for standby in self.standbys.values():
            if standby is not None:
                standby.close()

    def failed_steps(self) -> list[StepResult]:
        return [result for result in self.results.values() if result.status == "failed"]

    def _notify(self, result: StepResult) -> None:
        if self.runner.observer is not None:
            self.runner.observer(result)

    def loop(self) -> None:
        while self.pending or self.running or self.retries or self.waiting:
            self._schedule_ready()
            self._launch_due_retries()
            self._poll_waiting()
            timeout = self._until_next_wakeup()
            if not self.running:
                if timeout:
                    time.sleep(timeout)
                continue
            done, _ = wait(list(self.running), timeout=timeout, return_when=FIRST_COMPLETED)
            for future in done:
                self._finish(self.running.pop(future), future.result())

    def _until_next_wakeup(self) -> float | None:
        """Seconds until a retry is due or waiting steps look again (None: neither)."""
        due = [when for when, _ in self.retries]
        if self.waiting:
            due.append(self.next_poll)
        return max(0.0, min(due) - time.monotonic()) if due else None

    def _poll_waiting(self) -> None:
        if not self.waiting or time.monotonic() < self.next_poll:
            return
        self.next_poll = time.monotonic() + CLAIM_POLL_SECONDS
        for name, (step, key) in list(self.waiting.items()):
            if self.store.claim_step(key, self.run.id):
                del self.waiting[name]
                self._start(step, key, claimed=True)

    def _schedule_ready(self) -> None:
        for step in list(self.pending):
            parents = [self.results[p.name] for p in self.pipeline.upstream_of(step)]
            if any(parent.status in ("failed", "skipped") for parent in parents):
                self.pending.remove(step)
                self._skip(step, [p.name for p in parents if p.status in ("failed", "skipped")])
            elif all(parent.status in DONE for parent in parents):
                self.pending.remove(step)
                self._launch(step)
        self._start_standbys()

    def _skip(self, step: Step, because: list[str]) -> None:
        result = self.results[step.name]
        result.status = "skipped"
        result.error = f"skipped because {', '.join(because)} did not succeed"
        result.execution_id = self.store.start_execution(
            self.run.id,
            step=step.name,
            component=step.component.ref,
            fingerprint=None,
            params=self.params[step.name],
            inputs={},
            status="skipped",
        )
        self._notify(result)

    def _inputs(self, step: Step) -> dict[str, ArtifactRecord]:
        found = {}
        for port, ref in step.inputs.items():
            if isinstance(ref, ArtifactRecord):
                found[port] = ref
            else:
                found[port] = self.results[ref.step.name].outputs[ref.port]
        return found

    def _cache_hit(self, spec: ComponentSpec, key: str) -> ExecutionRecord | None:
        for candidate in self.store.find_cached(key):
            if set(candidate.outputs) != set(spec.outputs):
                continue
            if all(
                self.runner.artifacts.exists(a.digest, "dir" if a.kind == "dir" else "file")
                for a in candidate.outputs.values()
            ):
                return candidate
        return None

    def _launch(self, step: Step) -> None:
        spec = step.component
        params = self.params[step.name]
        key = fingerprint(
            spec,
            params,
            step.fingerprint_inputs({port: a.digest for port, a in self._inputs(step).items()}),
            step.fingerprint_extras(params),
        )
        cacheable = self.runner.cache and spec.cache
        if cacheable and not self.store.claim_step(key, self.run.id):
            # An identical step is executing in another run: wait for its result.
            result = self.results[step.name]
            result.status = "waiting"
            self.waiting[step.name] = (step, key)
            self.next_poll = time.monotonic() + CLAIM_POLL_SECONDS
            self._notify(result)
            return
        self._start(step, key, claimed=cacheable)

    def _start(self, step: Step, key: str, *, claimed: bool) -> None:
        """Take the cached result or submit the step; ``claimed``: this run holds ``key``."""
        spec = step.component
        params = self.params[step.name]
        inputs = self._inputs(step)
        input_ids = {port: artifact.id for port, artifact in inputs.items()}
        result = self.results[step.name]
        if claimed:
            hit = self._cache_hit(spec, key)
            if hit is not None:
                source = hit.cached_from_id or hit.id
                result.execution_id = self.store.start_execution(
                    self.run.id,
                    step=step.name,
                    component=spec.ref,
                    fingerprint=key,
                    params=params,
                    inputs=input_ids,
                    outputs={port: artifact.id for port, artifact in hit.outputs.items()},
                    status="cached",
                    cached_from_id=source,
                )
                self.store.tracking.copy(
                    from_execution=hit.id, to_run=self.run.id, to_execution=result.execution_id
                )
                result.status = "cached"
                result.cached_from = source
                result.outputs = dict(hit.outputs)
                result.seconds = 0.0
                self._publish(step, result, inputs, cached=True)
                self.store.release_steps(self.run.id, key)
                self._notify(result)
                return
        execution_id = self.store.start_execution(
            self.run.id,
            step=step.name,
            component=spec.ref,
            fingerprint=key,
            params=params,
            inputs=input_ids,
        )
        self._submit(
            _Attempt(step, execution_id, 1, time.monotonic(), key if claimed else None, key)
        )

    def _submit(self, attempt: _Attempt) -> None:
        step = attempt.step
        result = self.results[step.name]
        result.status = "running"
        result.execution_id = attempt.execution_id
        result.attempts = attempt.number
        standby = self.standbys.get(step.name)
        task = Task(
            step=step.name,
            component_ref=step.component.ref,
            params=self.params[step.name],
            inputs={
                port: TaskInput(
                    digest=artifact.digest,
                    kind="dir" if artifact.kind == "dir" else "file",
                    type_name=artifact.type_name,
                    properties=artifact.properties,
                )
                for port, artifact in self._inputs(step).items()
            },
            outputs={port: p.type.type_name for port, p in step.component.outputs.items()},
            artifacts=self.runner.artifacts,
            attempt=attempt.number,
            fingerprint=attempt.key,
            workers=self.executor.workers,
            standby=None if standby is None else standby.address,
            imports=step.imports(self.params[step.name]),
        )
        self.running[self.executor.submit(task)] = attempt
        self._prepare_later_steps()
        self._notify(result)

    def _prepare_later_steps(self) -> None:
        """Once the first step is at work, hand the executor the slow imports of the
        steps not started yet, to load in a worker that is idle meanwhile.  A run whose
        steps are all cached submits nothing, and loads nothing."""
        if self.prepared:
            return
        self.prepared = True
        modules = dict.fromkeys(
            module for step in self.pending for module in step.imports(self.params[step.name])
        )
        if modules:
            self.executor.prepare(list(modules))

    def _publish(
        self, step: Step, result: StepResult, inputs: dict[str, ArtifactRecord], *, cached: bool
    ) -> None:
        assert result.execution_id is not None
        context = PublishContext(
            store=self.store,
            artifacts=self.runner.artifacts,
            run=self.run,
            step=step.name,
            execution_id=result.execution_id,
            params=self.params[step.name],
            inputs=inputs,
            outputs=result.outputs,
            cached=cached,
        )
        try:
            step.publish(context)
        except Exception as exc:  # publishing is part of the step: its failure fails it
            result.status = "failed"
            result.error = f"publishing failed: {type(exc).__name__}: {exc}"
            result.traceback = traceback.format_exc()
            self.store.finish_execution(
                result.execution_id,
                status="failed",
                attempts=result.attempts,
                error=result.error,
                traceback=result.traceback,
            )

    def _launch_due_retries(self) -> None:
        now = time.monotonic()
        due = [attempt for when, attempt in self.retries if when <= now]
        self.retries = [(when, attempt) for when, attempt in self.retries if when > now]
        for attempt in due:
            self._submit(attempt)

    def _finish(self, attempt: _Attempt, outcome: TaskResult) -> None:
        step = attempt.step
        spec = step.component
        result = self.results[step.name]
        result.seconds = time.monotonic() - attempt.started
        if outcome.ok:
            result.outputs = self.store.finish_execution(
                attempt.execution_id,
                status="succeeded",
                attempts=attempt.number,
                outputs=outcome.outputs,
            )
            self.store.tracking.record(
                self.run.id,
                execution_id=attempt.execution_id,
                params=outcome.params,
                metrics=outcome.metrics,
            )
            result.status = "succeeded"
            self._publish(step, result, self._inputs(step), cached=False)
        elif attempt.number <= spec.retries:
            delay = spec.retry_backoff * 2 ** (attempt.number - 1)
            result.status = "retrying"
            result.error = outcome.error
            next_attempt = _Attempt(
                step,
                attempt.execution_id,
                attempt.number + 1,
                attempt.started,
                attempt.claim,
                attempt.key,
            )
            self.retries.append((time.monotonic() + delay, next_attempt))
        else:
            self.store.finish_execution(
                attempt.execution_id,
                status="failed",
                attempts=attempt.number,
                error=outcome.error,
                traceback=outcome.traceback,
            )
            result.status = "failed"
            result.error = outcome.error
            result.traceback = outcome.traceback
        if result.status != "retrying" and attempt.claim is not None:
            # Published or failed: a run waiting for this step may take it now.
            self.store.release_steps(self.run.id, attempt.claim)
        self._notify(result)
