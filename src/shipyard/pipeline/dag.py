"""Pipelines: DAGs of steps, validated before anything runs.

>>> from shipyard.pipeline.component import component
>>> from shipyard.pipeline.ports import Input, Output
>>> from shipyard.pipeline.types import Dataset
>>> @component
... def make(out: Output[Dataset]) -> None: ...
>>> @component
... def use(data: Input[Dataset], out: Output[Dataset]) -> None: ...
>>> first = make()
>>> pipeline = Pipeline("demo", [first, use(data=first.outputs.out)])
>>> [step.name for step in pipeline.order()]
['make', 'use']
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from shipyard.errors import PipelineError, PipelineValidationError, did_you_mean
from shipyard.pipeline.component import OutputRef, Step
from shipyard.store import ArtifactRecord


def _check_params(step: Step, problems: list[str]) -> dict[str, Any]:
    spec = step.component
    resolved: dict[str, Any] = {}
    for unknown in step.unknown:
        known = ", ".join(sorted([*spec.parameters, *spec.inputs])) or "none"
        problems.append(
            f"step '{step.name}': unknown parameter or input '{unknown}' "
            f"(component {spec.name} takes: {known})"
        )
    for name, parameter in spec.parameters.items():
        if name not in step.params:
            if parameter.required:
                problems.append(f"step '{step.name}': parameter '{name}' is required")
            else:
                resolved[name] = parameter.default
            continue
        given = step.params[name]
        try:
            value = TypeAdapter(parameter.annotation).validate_python(given)
        except ValidationError as exc:
            choices = parameter.choices
            if choices:
                problems.append(
                    f"step '{step.name}' (component {spec.name}): parameter '{name}' must be "
                    f"one of {', '.join(map(repr, choices))}, not {given!r}"
                    + did_you_mean(given, choices)
                )
            else:
                reason = exc.errors()[0]["msg"]
                problems.append(f"step '{step.name}': parameter '{name}' is invalid: {reason}")
            continue
        resolved[name] = value
    try:
        json.dumps(resolved)
    except (TypeError, ValueError) as exc:
        problems.append(f"step '{step.name}': parameters must be JSON-serialisable ({exc})")
    return resolved


class Pipeline:
    """A named DAG of steps.

    Steps are wired by passing one step's ``outputs.<port>`` as another's input.  Every
    step the pipeline runs must be listed.
    """

    def __init__(self, name: str, steps: Sequence[Step]) -> None:
        self.name = name
        self.steps = list(dict.fromkeys(steps))

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, {len(self.steps)} steps)"

    def step(self, name: str) -> Step:
        for step in self.steps:
            if step.name == name:
                return step
        raise KeyError(name)

    def validate(self) -> dict[str, dict[str, Any]]:
        """Check the DAG; return each step's resolved parameters (defaults filled in).

        Raises ``PipelineValidationError`` naming every problem: duplicate step names,
        unknown or invalid parameters, unconnected or mistyped inputs, inputs from steps
        outside the pipeline, and cycles.
        """
        problems: list[str] = []
        names: dict[str, Step] = {}
        for step in self.steps:
            if step.name in names:
                problems.append(
                    f"two steps are named '{step.name}'; give one another name with .named('...')"
                )
            names[step.name] = step
        members = set(map(id, self.steps))
        resolved = {step.name: _check_params(step, problems) for step in self.steps}
        for step in self.steps:
            spec = step.component
            for port_name, port in spec.inputs.items():
                source = step.inputs.get(port_name)
                if source is None:
                    if not port.optional:
                        problems.append(
                            f"step '{step.name}': input '{port_name}' ({port.type.type_name}) "
                            "is not connected"
                        )
                    continue
                if isinstance(source, ArtifactRecord):
                    if not port.type.accepts(source.type_name):
                        problems.append(
                            f"step '{step.name}': input '{port_name}' expects "
                            f"{port.type.type_name} but {source.ref} is {source.type_name}"
                        )
                    continue
                if not isinstance(source, OutputRef):
                    problems.append(
                        f"step '{step.name}': input '{port_name}' must be another step's "
                        f"output (like other.outputs.data) or a stored artifact, not "
                        f"{type(source).__name__}"
                    )
                    continue
                if id(source.step) not in members:
                    problems.append(
                        f"step '{step.name}': input '{port_name}' comes from step "
                        f"'{source.step.name}', which is not in the pipeline"
                    )
                if not issubclass(source.type, port.type):
                    problems.append(
                        f"step '{step.name}': input '{port_name}' expects "
                        f"{port.type.type_name} but {source!r} is {source.type.type_name}"
                    )
        if not problems:
            cycle = self._find_cycle()
            if cycle:
                problems.append("the steps form a cycle: " + " -> ".join(cycle))
        if problems:
            raise PipelineValidationError(problems)
        return resolved

    def upstream_of(self, step: Step) -> list[Step]:
        """The steps whose outputs feed ``step`` directly."""
        return list(
            dict.fromkeys(ref.step for ref in step.inputs.values() if isinstance(ref, OutputRef))
        )

    def _find_cycle(self) -> list[str]:
        state: dict[int, str] = {}
        path: list[Step] = []

        def visit(step: Step) -> list[str]:
            state[id(step)] = "active"
            path.append(step)
            for parent in self.upstream_of(step):
                if state.get(id(parent)) == "active":
                    loop = path[path.index(parent) :] + [parent]
                    return [s.name for s in reversed(loop)]
                if id(parent) not in state:
                    found = visit(parent)
                    if found:
                        return found
            path.pop()
            state[id(step)] = "done"
            return []

        for step in self.steps:
            if id(step) not in state:
                found = visit(step)
                if found:
                    return found
        return []

    def order(self) -> list[Step]:
        """Steps in an order where every step comes after the steps it depends on."""
        ordered: list[Step] = []
        placed: set[int] = set()

        def place(step: Step) -> None:
            if id(step) in placed:
                return
            placed.add(id(step))
            for parent in self.upstream_of(step):
                place(parent)
            ordered.append(step)

        for step in self.steps:
            place(step)
        return ordered


def split_pipeline_ref(ref: str) -> tuple[str, str]:
    """``MODULE:NAME`` as ``(MODULE, NAME)``; ``PipelineError`` for any other form."""
    module_ref, _, attribute = ref.rpartition(":")
    if not module_ref or not attribute:
        raise PipelineError(f"'{ref}' is not MODULE:PIPELINE (for example pipelines.py:training)")
    return module_ref, attribute


def load_pipeline(ref: str, *, folder: Path) -> Pipeline:
    """Import ``MODULE:NAME`` (or ``path/to/file.py:NAME``) and return its pipeline.

    ``NAME`` is a ``Pipeline`` or a function without arguments that returns one.  A
    file path is imported as a module from its own folder, so that worker processes can
    import its components by name.
    """
    module_ref, attribute = split_pipeline_ref(ref)
    if module_ref.endswith(".py"):
        path = (folder / module_ref).resolve()
        if not path.is_file():
            raise PipelineError(f"pipeline file {path} does not exist")
        sys.path.insert(0, str(path.parent))
        module_name = path.stem
    else:
        sys.path.insert(0, str(folder))
        module_name = module_ref
        path = Path()
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PipelineError(f"cannot import {module_ref}: {exc}") from exc
    if module_ref.endswith(".py") and Path(getattr(module, "__file__", "")).resolve() != path:
        raise PipelineError(
            f"{module_ref} is shadowed by the module '{module_name}' of "
            f"{getattr(module, '__file__', 'Python')}; rename the file"
        )
    target = getattr(module, attribute, None)
    if target is None:
        raise PipelineError(f"{module_ref} has no attribute '{attribute}'")
    if callable(target) and not isinstance(target, Pipeline):
        target = target()
    if not isinstance(target, Pipeline):
        raise PipelineError(f"{ref} is a {type(target).__name__}, not a Pipeline")
    return target
