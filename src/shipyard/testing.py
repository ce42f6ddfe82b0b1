"""The conformance suite every component must pass, like scikit-learn's ``check_estimator``.

``check_component`` takes a configured step — a component with its parameters and its
inputs — and checks the contract the engine relies on:

- ``importable``: workers can import the component by its ``module:qualname``;
- ``parameters``: an unknown parameter, a value of the wrong type and a missing required
  parameter are refused before the run, by an error naming the component and the parameter;
- ``run``: the step succeeds;
- ``outputs registered``: every output port's artifact is in the metadata store and its
  content in the artifact store;
- ``lineage``: the execution is linked to each input and output artifact;
- ``fingerprint``: a fresh Python process computes the same cache key;
- ``cache``: an unchanged re-run is a cache hit with the same output digests.

A failed check raises ``ConformanceFailure`` (an ``AssertionError``) naming the check.
Inputs come from other steps (their outputs wire the step; those steps run first, with
caching), from artifacts already in the project, or from ``files``.

>>> from shipyard.testing import check_component
>>> report = check_component(Summarise(numbers=generate(count=5).outputs.numbers))
... # doctest: +SKIP
>>> report.passed  # doctest: +SKIP
['importable', 'parameters', 'run', 'outputs registered', 'lineage', 'fingerprint', 'cache']
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shipyard.errors import ComponentError, ConformanceFailure, PipelineValidationError
from shipyard.pipeline.component import OutputRef, Step, load_component
from shipyard.pipeline.dag import Pipeline
from shipyard.pipeline.runner import StepResult, fingerprint
from shipyard.project import Project
from shipyard.store import ArtifactRecord, ExecutionRecord
from shipyard.store.records import StoredOutput

__all__ = ["CHECKS", "ConformanceFailure", "ConformanceReport", "check_component"]

CHECKS = (
    "importable",
    "parameters",
    "run",
    "outputs registered",
    "lineage",
    "fingerprint",
    "cache",
)

UNKNOWN_PARAMETER = "not_a_parameter_of_this_component"


class _WrongType:
    """A value no typed parameter accepts."""

    def __repr__(self) -> str:
        return "<a value of the wrong type>"


@dataclass(frozen=True)
class ConformanceReport:
    """What ``check_component`` found: the checks passed, those skipped and why.

    ``execution`` is the step's real (uncached) execution and ``outputs`` its artifacts,
    which may feed the next component's check when both use one project.
    """

    component: str
    passed: list[str]
    execution: ExecutionRecord
    outputs: dict[str, ArtifactRecord]
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def check_component(
    step: Step,
    *,
    files: Mapping[str, Path | str] | None = None,
    project: Project | None = None,
) -> ConformanceReport:
    """Run ``step`` through the conformance checks; raise ``ConformanceFailure`` on the first.

    ``step`` is a configured component, e.g. ``Scale(numbers=gen.outputs.numbers,
    factor=3)``: inputs wired to other steps' outputs are produced by running those steps
    first; inputs bound to stored artifacts are used as they are; ``files`` maps the
    remaining input ports to files or folders, stored as artifacts of the port's type.
    The checks run in ``project`` (its stores), or in a temporary project by default.
    """
    if project is not None:
        return _Checker(step, project).check(files or {})
    with _temporary_project() as scratch:
        return _Checker(step, scratch).check(files or {})


@contextmanager
def _temporary_project() -> Iterator[Project]:
    with tempfile.TemporaryDirectory(prefix="shipyard-conformance-") as folder:
        project = Project.init(Path(folder) / "conformance")
        try:
            yield project
        finally:
            project.close()


class _Checker:
    def __init__(self, step: Step, project: Project) -> None:
        self.step = step
        self.spec = step.component
        self.project = project
        self.passed: list[str] = []
        self.skipped: dict[str, str] = {}
        self.notes: list[str] = []

    def fail(self, check: str, message: str) -> ConformanceFailure:
        return ConformanceFailure(message, check=check, component=self.spec.ref)

    def check(self, files: Mapping[str, Path | str]) -> ConformanceReport:
        self._check_importable()
        inputs = self._inputs(files)
        arguments: dict[str, Any] = {**self.step.params, **inputs}
        pipeline = Pipeline(f"conformance-{self.spec.name}", [self._remake(arguments)])
        pipeline.validate()  # a setup mistake of the caller's, not a finding
        self._check_parameters(arguments)
        first = self._run(pipeline)
        execution = self._check_outputs_registered(first)
        self._check_lineage(execution, inputs, first)
        self._check_fingerprint(execution)
        self._check_cache(pipeline, first)
        return ConformanceReport(
            component=self.spec.ref,
            passed=self.passed,
            skipped=self.skipped,
            notes=self.notes,
            execution=execution,
            outputs=first.outputs,
        )

    def _remake(self, arguments: Mapping[str, Any]) -> Step:
        made: Step = load_component(self.spec.ref)(**arguments)
        return made.named(self.step.name)

    # -- the checks ---------------------------------------------------------------------

    def _check_importable(self) -> None:
        try:
            target = load_component(self.spec.ref)
        except ComponentError as exc:
            raise self.fail("importable", str(exc)) from exc
        if getattr(target, "spec", None) != self.spec:
            raise self.fail(
                "importable",
                f"importing {self.spec.ref} gives {target!r}, not this component; define "
                "each component once, at module level",
            )
        self.passed.append("importable")

    def _inputs(self, files: Mapping[str, Path | str]) -> dict[str, ArtifactRecord]:
        for port in files:
            if port not in self.spec.inputs:
                known = ", ".join(self.spec.inputs) or "none"
                raise ComponentError(
                    f"files names '{port}', which is not an input of {self.spec.name}; "
                    f"its inputs: {known}"
                )
        bound = {p: a for p, a in self.step.inputs.items() if isinstance(a, ArtifactRecord)}
        bound.update(self._store_files(files))
        refs = {p: ref for p, ref in self.step.inputs.items() if isinstance(ref, OutputRef)}
        if refs:
            upstream = _upstream_of(list(refs.values()))
            result = self.project.run(Pipeline(f"conformance-inputs-{self.spec.name}", upstream))
            try:
                result.raise_for_failure()
            except Exception as exc:
                raise self.fail("run", f"a step producing its inputs failed: {exc}") from exc
            bound.update({p: result.output(ref.step.name, ref.port) for p, ref in refs.items()})
        return bound

    def _store_files(self, files: Mapping[str, Path | str]) -> dict[str, ArtifactRecord]:
        if not files:
            return {}
        store = self.project.store
        run = store.start_run(
            f"conformance-files-{self.spec.name}",
            params={},
            code_version=None,
            code_dirty=None,
            environment={},
        )
        stored: dict[str, ArtifactRecord] = {}
        for port, path in files.items():
            blob = self.project.artifacts.put(Path(path))
            execution_id = store.start_execution(
                run.id,
                step=f"store {port}",
                component="shipyard.testing:check_component",
                fingerprint=None,
                params={"path": str(path)},
                inputs={},
            )
            output = StoredOutput(
                type_name=self.spec.inputs[port].type.type_name,
                digest=blob.digest,
                kind=blob.kind,
                size=blob.size,
                uri=blob.uri,
            )
            records = store.finish_execution(
                execution_id, status="succeeded", attempts=1, outputs={"artifact": output}
            )
            stored[port] = records["artifact"]
        store.finish_run(run.id, status="succeeded")
        return stored

    def _refusal(self, arguments: Mapping[str, Any], parameter: str, case: str) -> None:
        # The step keeps its component's name here, so the message must name the component.
        name = self.spec.name
        try:
            Pipeline(
                "conformance-parameters", [load_component(self.spec.ref)(**arguments)]
            ).validate()
        except PipelineValidationError as exc:
            if not any(f"'{parameter}'" in p and f"'{name}'" in p for p in exc.problems):
                raise self.fail(
                    "parameters",
                    f"{case} was refused, but no message names the component '{name}' and "
                    f"the parameter '{parameter}': {exc}",
                ) from exc
            return
        raise self.fail("parameters", f"{case} was accepted; it must be refused before the run")

    def _check_parameters(self, arguments: dict[str, Any]) -> None:
        self._refusal(
            {**arguments, UNKNOWN_PARAMETER: 1},
            UNKNOWN_PARAMETER,
            f"the unknown parameter '{UNKNOWN_PARAMETER}'",
        )
        for name, parameter in self.spec.parameters.items():
            wrong = _WrongType()
            try:
                TypeAdapter(parameter.annotation).validate_python(wrong)
            except ValidationError:
                self._refusal({**arguments, name: wrong}, name, f"{wrong!r} for parameter '{name}'")
            else:
                self.notes.append(f"parameter '{name}' accepts a value of any type")
            if parameter.required:
                missing = {key: value for key, value in arguments.items() if key != name}
                self._refusal(missing, name, f"leaving out the required parameter '{name}'")
        self.passed.append("parameters")

    def _run(self, pipeline: Pipeline) -> StepResult:
        # cache=False: the step must really execute even when the project has run it before.
        result = self.project.run(pipeline, cache=False, workers=1).steps[self.step.name]
        if result.status != "succeeded":
            detail = f"\n{result.traceback}" if result.traceback else ""
            raise self.fail("run", f"the step {result.status}: {result.error}{detail}")
        self.passed.append("run")
        return result

    def _check_outputs_registered(self, result: StepResult) -> ExecutionRecord:
        store, artifacts = self.project.store, self.project.artifacts
        missing = sorted(set(self.spec.outputs) - set(result.outputs))
        if missing:
            raise self.fail("outputs registered", f"no artifact for outputs {missing}")
        for port, record in result.outputs.items():
            stored = store.get_artifact(record.id)
            expected = self.spec.outputs[port].type.type_name
            if (stored.type_name, stored.digest) != (expected, record.digest):
                raise self.fail(
                    "outputs registered",
                    f"output '{port}' is stored as {stored.type_name} {stored.digest}, "
                    f"expected {expected} {record.digest}",
                )
            if not artifacts.exists(record.digest, "dir" if record.kind == "dir" else "file"):
                raise self.fail(
                    "outputs registered",
                    f"output '{port}' ({record.digest}) is not in the artifact store",
                )
        assert result.execution_id is not None
        (execution,) = store.get_executions([result.execution_id])
        self.passed.append("outputs registered")
        return execution

    def _check_lineage(
        self, execution: ExecutionRecord, inputs: dict[str, ArtifactRecord], result: StepResult
    ) -> None:
        recorded_inputs = {port: a.id for port, a in execution.inputs.items()}
        if recorded_inputs != {port: a.id for port, a in inputs.items()}:
            raise self.fail(
                "lineage", f"input events {recorded_inputs} do not match the inputs {inputs}"
            )
        recorded_outputs = {port: a.id for port, a in execution.outputs.items()}
        if recorded_outputs != {port: a.id for port, a in result.outputs.items()}:
            raise self.fail(
                "lineage", f"output events {recorded_outputs} do not match the step's outputs"
            )
        producers = self.project.store.artifact_events(
            recorded_outputs.values(), direction="output"
        )
        for port, artifact_id in recorded_outputs.items():
            if (execution.id, artifact_id, port) not in producers:
                raise self.fail("lineage", f"artifact {artifact_id} does not record its producer")
        self.passed.append("lineage")

    def _check_fingerprint(self, execution: ExecutionRecord) -> None:
        if execution.fingerprint is None:
            raise self.fail("fingerprint", "the execution has no fingerprint")
        request = {
            "ref": self.spec.ref,
            "params": execution.params,
            "inputs": {port: a.digest for port, a in execution.inputs.items()},
        }
        fresh = _fingerprint_in_fresh_process(request)
        if fresh != execution.fingerprint:
            raise self.fail(
                "fingerprint",
                f"a fresh process computes {fresh}, this one {execution.fingerprint}: the "
                "cache key depends on something that changes between processes (a set's "
                "order, an id(), the process id, a temporary path) in the parameters or "
                "in fingerprint_extras",
            )
        self.passed.append("fingerprint")

    def _check_cache(self, pipeline: Pipeline, first: StepResult) -> None:
        if not self.spec.cache:
            self.skipped["cache"] = "the component is declared with cache=False"
            return
        again = self.project.run(pipeline, cache=True).steps[self.step.name]
        if again.status != "cached" or again.cached_from != first.execution_id:
            raise self.fail(
                "cache",
                f"the unchanged re-run {again.status} ({again.error or 'no error'}) instead "
                f"of reusing execution {first.execution_id}",
            )
        digests = {port: a.digest for port, a in again.outputs.items()}
        if digests != {port: a.digest for port, a in first.outputs.items()}:
            raise self.fail("cache", f"the cached re-run gave other outputs: {digests}")
        self.passed.append("cache")


def _upstream_of(refs: list[OutputRef]) -> list[Step]:
    """The steps producing ``refs`` and everything they depend on."""
    found: dict[int, Step] = {}
    pending = [ref.step for ref in refs]
    while pending:
        step = pending.pop()
        if id(step) in found:
            continue
        found[id(step)] = step
        pending.extend(r.step for r in step.inputs.values() if isinstance(r, OutputRef))
    return list(found.values())


def _fingerprint_in_fresh_process(request: dict[str, Any]) -> str:
    # The child sees the same modules (sys.path) but fresh hash seeds, ids and pid.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p or os.getcwd() for p in sys.path)}
    env.pop("PYTHONHASHSEED", None)
    code = "from shipyard.testing import _fingerprint_from_stdin; _fingerprint_from_stdin()"
    try:
        done = subprocess.run(
            [sys.executable, "-c", code],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=True,
        )
    except subprocess.CalledProcessError as exc:
        raise ConformanceFailure(
            f"computing the fingerprint in a fresh process failed:\n{exc.stderr}",
            check="fingerprint",
            component=request["ref"],
        ) from exc
    return done.stdout.strip()


def _fingerprint_from_stdin() -> None:
    """Print the cache key of the step described on stdin (runs in the fresh process)."""
    request = json.loads(sys.stdin.read())
    params: dict[str, Any] = request["params"]
    step: Step = load_component(request["ref"])(**params)
    inputs = step.fingerprint_inputs(dict(request["inputs"]))
    print(fingerprint(step.component, params, inputs, step.fingerprint_extras(params)))
