"""Components and the steps made from them.

A component is either a function decorated with ``@component`` or a subclass of
``Component``.  Its typed ``Input[...]``/``Output[...]`` annotations are its artifact
ports; every other annotated argument is a parameter (a JSON-serialisable value).
A parameter with fixed choices is declared as a ``Literal[...]`` or a ``StrEnum``; a value
outside them is refused when the pipeline is validated, before anything runs.
Calling a component with its inputs and parameters makes a ``Step``, a node of a pipeline:

>>> from shipyard.pipeline.ports import Output
>>> from shipyard.pipeline.types import Dataset
>>> @component
... def numbers(out: Output[Dataset], *, count: int = 3) -> None:
...     out.path.write_text(",".join(str(i) for i in range(count)))
>>> step = numbers(count=5)
>>> step.name, step.params
('numbers', {'count': 5})

The class form keeps configuration in attributes, like a scikit-learn estimator:

>>> from shipyard.pipeline.ports import Input
>>> from shipyard.pipeline.types import Metrics
>>> class Total(Component):
...     values: Input[Dataset]
...     total: Output[Metrics]
...     def run(self) -> None:
...         self.total.path.write_text(str(sum(map(int, self.values.path.read_text().split(",")))))

Both forms share the introspection of ports and parameters and the checks made when a
component is defined, so they live in one module.
"""

from __future__ import annotations

import enum
import hashlib
import importlib
import inspect
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

from shipyard.artifacts import ArtifactStore
from shipyard.errors import ComponentError, did_you_mean
from shipyard.pipeline.context import Standby
from shipyard.pipeline.ports import Input, Output
from shipyard.pipeline.types import Artifact
from shipyard.store import ArtifactRecord, RunRecord

if TYPE_CHECKING:
    from shipyard.store import MetadataStore

__all__ = [
    "Component",
    "ComponentSpec",
    "OutputRef",
    "PublishContext",
    "Step",
    "component",
    "load_component",
]

_NO_DEFAULT: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class Port:
    """One artifact input or output of a component."""

    name: str
    type: type[Artifact]
    optional: bool = False


@dataclass(frozen=True)
class Parameter:
    """One parameter of a component: its annotation and default."""

    name: str
    annotation: Any
    default: Any = _NO_DEFAULT

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The allowed values when the annotation is a ``Literal`` or ``StrEnum`` of text."""
        return _choices_of(self.annotation)


def _choices_of(annotation: Any) -> tuple[str, ...] | None:
    origin = get_origin(annotation)
    if origin is Literal:
        values = get_args(annotation)
        return values if all(isinstance(value, str) for value in values) else None
    if isinstance(annotation, type) and issubclass(annotation, enum.StrEnum):
        return tuple(member.value for member in annotation)
    if origin in (Union, types.UnionType):
        nested = [_choices_of(arg) for arg in get_args(annotation) if arg is not type(None)]
        if all(choices is not None for choices in nested):
            return tuple(choice for choices in nested if choices for choice in choices)
    return None


@dataclass(frozen=True)
class ComponentSpec:
    """Everything the engine knows about a component, derived from its definition."""

    name: str
    ref: str  # "module:qualname", how workers import it
    kind: str  # "function" or "class"
    inputs: dict[str, Port]
    outputs: dict[str, Port]
    parameters: dict[str, Parameter]
    source_digest: str
    cache: bool = True
    retries: int = 0
    retry_backoff: float = 1.0
    doc: str = field(default="", compare=False)


def _port_of(annotation: Any) -> tuple[str, type[Artifact], bool] | None:
    """``(direction, artifact type, optional)`` when ``annotation`` is a port."""
    optional = False
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        members = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(members) == 1 and len(get_args(annotation)) == 2:
            annotation, optional = members[0], True
            origin = get_origin(annotation)
    if origin not in (Input, Output):
        return None
    (artifact_type,) = get_args(annotation)
    if not (isinstance(artifact_type, type) and issubclass(artifact_type, Artifact)):
        raise ComponentError(f"{annotation} must name an Artifact subclass")
    return ("input" if origin is Input else "output"), artifact_type, optional


def _source_digest(target: object) -> str:
    try:
        source = inspect.getsource(target)  # type: ignore[arg-type]
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        source = repr(code.co_code if code is not None else target)
    return hashlib.sha256(source.encode()).hexdigest()


def _build_spec(
    target: Callable[..., Any] | type,
    hints: Mapping[str, Any],
    defaults: Mapping[str, Any],
    *,
    kind: str,
    name: str | None,
    cache: bool,
    retries: int,
    retry_backoff: float,
    version: str | None,
) -> ComponentSpec:
    inputs: dict[str, Port] = {}
    outputs: dict[str, Port] = {}
    parameters: dict[str, Parameter] = {}
    for arg, annotation in hints.items():
        port = _port_of(annotation)
        if port is None:
            parameter = Parameter(arg, annotation, defaults.get(arg, _NO_DEFAULT))
            choices = parameter.choices
            if choices and not parameter.required and parameter.default not in (*choices, None):
                allowed = ", ".join(map(repr, choices))
                raise ComponentError(
                    f"{target.__qualname__}: the default of parameter '{arg}' is "
                    f"{parameter.default!r}, not one of {allowed}"
                    + did_you_mean(parameter.default, choices)
                )
            parameters[arg] = parameter
            continue
        direction, artifact_type, optional = port
        if direction == "output":
            if optional:
                raise ComponentError(f"{target.__qualname__}: output '{arg}' cannot be optional")
            outputs[arg] = Port(arg, artifact_type)
        else:
            inputs[arg] = Port(arg, artifact_type, optional)
    if retries < 0 or retry_backoff < 0:
        raise ComponentError(f"{target.__qualname__}: retries and backoff must be >= 0")
    digest = _source_digest(target)
    if version is not None:
        digest = hashlib.sha256(f"{digest}:{version}".encode()).hexdigest()
    return ComponentSpec(
        name=name or target.__name__,
        ref=f"{target.__module__}:{target.__qualname__}",
        kind=kind,
        inputs=inputs,
        outputs=outputs,
        parameters=parameters,
        source_digest=digest,
        cache=cache,
        retries=retries,
        retry_backoff=retry_backoff,
        doc=inspect.getdoc(target) or "",
    )


@dataclass(frozen=True)
class OutputRef:
    """A reference to one output port of a step, used to wire another step's input."""

    step: Step
    port: str

    @property
    def type(self) -> type[Artifact]:
        return self.step.component.outputs[self.port].type

    def __repr__(self) -> str:
        return f"{self.step.name}.outputs.{self.port}"


class Outputs:
    """Attribute and item access to a step's output references."""

    def __init__(self, step: Step) -> None:
        self._step = step

    def __getitem__(self, port: str) -> OutputRef:
        if port not in self._step.component.outputs:
            known = ", ".join(self._step.component.outputs) or "none"
            raise ComponentError(
                f"step '{self._step.name}' has no output '{port}'; its outputs: {known}"
            )
        return OutputRef(self._step, port)

    def __getattr__(self, port: str) -> OutputRef:
        if port.startswith("_"):
            raise AttributeError(port)
        return self[port]

    def __iter__(self) -> typing.Iterator[str]:
        return iter(self._step.component.outputs)


@dataclass(frozen=True)
class PublishContext:
    """What ``Step.publish`` may use: the stores, and the step's run, inputs and outputs."""

    store: MetadataStore
    artifacts: ArtifactStore
    run: RunRecord
    step: str
    execution_id: int
    params: dict[str, Any]
    inputs: dict[str, ArtifactRecord]
    outputs: dict[str, ArtifactRecord]
    cached: bool

    def log(
        self,
        *,
        params: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
    ) -> None:
        """Record parameters and metrics for the run, as a component's own logging does."""
        self.store.tracking.record(
            self.run.id,
            execution_id=self.execution_id,
            params=params or {},
            metrics=[(key, float(value), None) for key, value in (metrics or {}).items()],
        )


Binding = Union["OutputRef", ArtifactRecord]


class Step:
    """A component with its inputs wired and its parameters set: one node of a DAG.

    An input is wired to another step's output, or to an artifact already stored (an
    ``ArtifactRecord``, for example the statistics of an earlier dataset version).
    """

    def _bind_step(self, spec: ComponentSpec, arguments: Mapping[str, Any]) -> None:
        self._spec = spec
        self.name = spec.name
        self.inputs: dict[str, Binding] = {}
        self.params: dict[str, Any] = {}
        self.unknown: list[str] = []
        for key, value in arguments.items():
            if key in spec.inputs:
                self.inputs[key] = value
            elif key in spec.parameters:
                self.params[key] = value
            else:
                self.unknown.append(key)

    @property
    def component(self) -> ComponentSpec:
        return self._spec

    @property
    def outputs(self) -> Outputs:
        return Outputs(self)

    def named(self, name: str) -> Step:
        """Give the step a name of its own (two steps of one component need two names)."""
        self.name = name
        return self

    def bind(self, **inputs: Binding) -> Step:
        """Wire (or re-wire) inputs after the step was made."""
        for key, value in inputs.items():
            if key not in self._spec.inputs:
                self.unknown.append(key)
            else:
                self.inputs[key] = value
        return self

    def fingerprint_extras(self, params: dict[str, Any]) -> dict[str, str]:
        """Digests of what the step reads from outside the artifact store (files, URLs).

        They join the step's fingerprint, so a change to them invalidates the cache.
        Runs in the runner process; the default is nothing.
        """
        return {}

    def fingerprint_inputs(self, digests: dict[str, str]) -> dict[str, str]:
        """The input digests the step's cache key covers (by default, all of them).

        A component may leave out an input that cannot change its result in this case,
        so that an unchanged re-run is still a cache hit.
        """
        return digests

    def imports(self, params: dict[str, Any]) -> tuple[str, ...]:
        """Modules the step's ``run`` imports, given its ``params``, that take seconds to
        load (scikit-learn, say).  A local executor loads them ahead in a worker that is
        idle while earlier steps run, and sends the step to that worker.  The default is
        none.
        """
        return ()

    def standby(self) -> Standby | None:
        """A process the step will use, which the runner starts once all the step's
        parents have started and one of them is still at work, so that its start-up
        overlaps theirs; the step finds its address in ``current_step().standby``, and the
        runner closes it when the run ends.  Asked only when the step runs on this
        machine, and only once a run; the default is none.
        """
        return None

    def publish(self, context: PublishContext) -> None:
        """Write metadata about the step's results (runs in the runner, not a worker).

        Called after the step succeeded and after a cache hit, so it must be idempotent.
        The default writes nothing.
        """

    def __repr__(self) -> str:
        return f"Step({self.name!r}, component={self._spec.ref!r}, params={self.params!r})"


class FunctionStep(Step):
    """A step made by calling a function component."""

    def __init__(self, spec: ComponentSpec, arguments: Mapping[str, Any]) -> None:
        self._bind_step(spec, arguments)


F = TypeVar("F", bound=Callable[..., Any])


class FunctionComponent:
    """A function turned into a component by ``@component``; calling it makes a step."""

    def __init__(self, fn: Callable[..., Any], spec: ComponentSpec) -> None:
        self.fn = fn
        self.spec = spec
        self.__doc__ = fn.__doc__
        self.__name__ = fn.__name__
        self.__qualname__ = fn.__qualname__
        self.__module__ = fn.__module__
        self.__wrapped__ = fn

    def __call__(self, **arguments: Any) -> Step:
        return FunctionStep(self.spec, arguments)

    def __reduce__(self) -> tuple[Callable[[str], Any], tuple[str]]:
        # Workers import the component by reference rather than unpickling code.
        return load_component, (self.spec.ref,)

    def __repr__(self) -> str:
        return f"<component {self.spec.ref}>"


@typing.overload
def component(fn: F, /) -> FunctionComponent: ...


@typing.overload
def component(
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_backoff: float = 1.0,
    version: str | None = None,
) -> Callable[[F], FunctionComponent]: ...


def component(
    fn: F | None = None,
    /,
    *,
    name: str | None = None,
    cache: bool = True,
    retries: int = 0,
    retry_backoff: float = 1.0,
    version: str | None = None,
) -> FunctionComponent | Callable[[F], FunctionComponent]:
    """Make a function a pipeline component.

    ``cache=False`` always re-runs it; ``retries`` re-runs a failing step with an
    exponential backoff starting at ``retry_backoff`` seconds; bump ``version`` to
    invalidate cached results when code the function calls has changed.
    """

    def decorate(target: F) -> FunctionComponent:
        if not callable(target) or isinstance(target, type):
            raise ComponentError("@component decorates functions; subclass Component for classes")
        try:
            hints = typing.get_type_hints(target)
        except NameError as exc:
            raise ComponentError(
                f"{target.__qualname__}: cannot resolve annotations: {exc}"
            ) from exc
        hints.pop("return", None)
        signature = inspect.signature(target)
        missing = [p for p in signature.parameters if p not in hints]
        if missing:
            raise ComponentError(
                f"{target.__qualname__}: annotate every argument; missing: {', '.join(missing)}"
            )
        defaults = {p.name: p.default for p in signature.parameters.values()}
        spec = _build_spec(
            target,
            hints,
            defaults,
            kind="function",
            name=name,
            cache=cache,
            retries=retries,
            retry_backoff=retry_backoff,
            version=version,
        )
        return FunctionComponent(target, spec)

    return decorate(fn) if fn is not None else decorate


class Component(Step):
    """Base class of class-based components.

    Declare ports and parameters as annotated class attributes and implement ``run``;
    the constructor only stores configuration (inputs and parameters by keyword).
    Class options: ``cache``, ``retries``, ``retry_backoff``, ``version``.
    """

    spec: ClassVar[ComponentSpec]
    cache: ClassVar[bool] = True
    retries: ClassVar[int] = 0
    retry_backoff: ClassVar[float] = 1.0
    version: ClassVar[str | None] = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        hints: dict[str, Any] = {}
        defaults: dict[str, Any] = {}
        for klass in reversed(cls.__mro__):
            if klass in (Component, Step, object) or not issubclass(klass, Component):
                continue
            own = typing.get_type_hints(klass)
            for attr in klass.__dict__.get("__annotations__", {}):
                if get_origin(own[attr]) is ClassVar:
                    continue
                hints[attr] = own[attr]
                if attr in klass.__dict__:
                    defaults[attr] = klass.__dict__[attr]
        cls.spec = _build_spec(
            cls,
            hints,
            defaults,
            kind="class",
            name=None,
            cache=cls.cache,
            retries=cls.retries,
            retry_backoff=cls.retry_backoff,
            version=cls.version,
        )

    def __init__(self, **arguments: Any) -> None:
        self._bind_step(type(self).spec, arguments)

    def run(self) -> None:
        """Do the work: read ``self.<input>.path``, write ``self.<output>.path``."""
        raise NotImplementedError(f"{type(self).__qualname__} must implement run()")


def load_component(ref: str) -> Any:
    """Import a component (function or class) from its ``module:qualname`` reference."""
    module_name, _, qualname = ref.partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError) as exc:
        raise ComponentError(
            f"cannot import component {ref}: {exc}; components must be defined at module "
            "level in an importable module"
        ) from exc
    return target
