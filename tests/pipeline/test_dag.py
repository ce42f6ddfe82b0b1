from __future__ import annotations

import enum
from typing import Literal

import pytest

from shipyard import (
    ComponentError,
    Input,
    Output,
    Pipeline,
    PipelineError,
    PipelineValidationError,
    component,
)
from shipyard.pipeline import Dataset, fingerprint
from shipyard.pipeline.dag import split_pipeline_ref
from tests.pipeline import components as c


def problems_of(pipeline: Pipeline) -> list[str]:
    with pytest.raises(PipelineValidationError) as caught:
        pipeline.validate()
    return caught.value.problems


def test_valid_pipeline_resolves_defaults_and_orders_steps() -> None:
    numbers = c.generate(count=3)
    summary = c.Summarise(numbers=numbers.outputs.numbers)
    # Listed out of order on purpose.
    pipeline = Pipeline("p", [summary, numbers])
    assert pipeline.validate() == {"generate": {"count": 3, "start": 0}, "Summarise": {}}
    assert [s.name for s in pipeline.order()] == ["generate", "Summarise"]


def test_unknown_parameter_names_the_step_and_the_known_ones() -> None:
    problems = problems_of(Pipeline("p", [c.generate(rowz=3)]))
    assert problems == [
        "step 'generate': unknown parameter or input 'rowz' "
        "(component generate takes: count, start)"
    ]


def test_invalid_parameter_value_is_reported() -> None:
    problems = problems_of(Pipeline("p", [c.generate(count="many")]))
    assert len(problems) == 1
    assert problems[0].startswith("step 'generate': parameter 'count' is invalid:")


def test_missing_required_parameter_and_input() -> None:
    problems = problems_of(Pipeline("p", [c.fragile()]))
    assert "step 'fragile': parameter 'flag_file' is required" in problems
    assert "step 'fragile': input 'numbers' (Dataset) is not connected" in problems


def test_type_mismatch_between_output_and_input() -> None:
    numbers = c.generate()
    summary = c.Summarise(numbers=numbers.outputs.numbers)
    wrong = c.use_model(model=summary.outputs.summary)
    problems = problems_of(Pipeline("p", [numbers, summary, wrong]))
    assert problems == [
        "step 'use_model': input 'model' expects Model but Summarise.outputs.summary is Metrics"
    ]


def test_input_from_a_step_outside_the_pipeline() -> None:
    outside = c.generate()
    problems = problems_of(Pipeline("p", [c.scale(numbers=outside.outputs.numbers)]))
    assert problems == [
        "step 'scale': input 'numbers' comes from step 'generate', which is not in the pipeline"
    ]


def test_cycle_is_reported_with_its_steps() -> None:
    first = c.generate()
    a = c.scale(numbers=first.outputs.numbers).named("a")
    b = c.scale(numbers=a.outputs.scaled).named("b")
    a.bind(numbers=b.outputs.scaled)
    problems = problems_of(Pipeline("p", [first, a, b]))
    assert len(problems) == 1
    assert problems[0].startswith("the steps form a cycle: ")
    assert set(problems[0].split(": ")[1].split(" -> ")) == {"a", "b"}


def test_duplicate_step_names() -> None:
    problems = problems_of(Pipeline("p", [c.generate(), c.generate(count=2)]))
    assert problems == ["two steps are named 'generate'; give one another name with .named('...')"]


def test_asking_for_an_unknown_output_is_an_error() -> None:
    with pytest.raises(ComponentError, match="has no output 'nope'; its outputs: numbers"):
        c.generate().outputs.nope  # noqa: B018


def test_component_arguments_must_be_annotated() -> None:
    with pytest.raises(ComponentError, match="annotate every argument; missing: count"):

        @component
        def bad(out: Output[Dataset], count=3) -> None:  # type: ignore[no-untyped-def]
            pass


def test_ports_must_name_artifact_types() -> None:
    with pytest.raises(ComponentError, match="must name an Artifact subclass"):

        @component
        def bad(data: Input[int]) -> None:  # type: ignore[type-var]
            pass


def test_fingerprint_depends_on_params_inputs_and_source() -> None:
    spec = c.scale.spec
    base = fingerprint(spec, {"factor": 2.0}, {"numbers": "a" * 64})
    assert base == fingerprint(spec, {"factor": 2.0}, {"numbers": "a" * 64})
    assert base != fingerprint(spec, {"factor": 3.0}, {"numbers": "a" * 64})
    assert base != fingerprint(spec, {"factor": 2.0}, {"numbers": "b" * 64})
    assert base != fingerprint(c.Summarise.spec, {"factor": 2.0}, {"numbers": "a" * 64})


def test_version_option_changes_the_source_digest() -> None:
    def body(out: Output[Dataset]) -> None:
        out.path.write_text("x")

    plain = component(body)
    versioned = component(version="2")(body)
    assert plain.spec.source_digest != versioned.spec.source_digest


@pytest.mark.parametrize("ref", ["no-colon", "flow.py:", ":pipeline", ""])
def test_a_pipeline_reference_of_another_form_is_refused(ref: str) -> None:
    with pytest.raises(PipelineError, match="is not MODULE:PIPELINE"):
        split_pipeline_ref(ref)


def test_a_pipeline_reference_splits_at_its_last_colon() -> None:
    assert split_pipeline_ref("C:/flows/flow.py:training") == ("C:/flows/flow.py", "training")


class Strength(enum.StrEnum):
    LIGHT = "light"
    HEAVY = "heavy"


@component
def choose(
    out: Output[Dataset],
    *,
    task: Literal["regression", "classification"] = "regression",
    strength: Strength = Strength.LIGHT,
    impute: Literal["median", "mean"] | None = None,
) -> None: ...


def test_a_value_outside_fixed_choices_is_refused_naming_them() -> None:
    problems = problems_of(Pipeline("p", [choose(task="clasification", impute="Mean")]))
    assert problems == [
        "step 'choose' (component choose): parameter 'task' must be one of 'regression', "
        "'classification', not 'clasification' (did you mean 'classification'?)",
        "step 'choose' (component choose): parameter 'impute' must be one of 'median', "
        "'mean', not 'Mean' (did you mean 'mean'?)",
    ]
    (problem,) = problems_of(Pipeline("p", [choose(strength="medium")]))
    assert problem.endswith("must be one of 'light', 'heavy', not 'medium'")


def test_values_inside_fixed_choices_are_accepted() -> None:
    pipeline = Pipeline("p", [choose(task="classification", strength="heavy", impute=None)])
    assert pipeline.validate() == {
        "choose": {"task": "classification", "strength": "heavy", "impute": None}
    }


def test_a_default_outside_fixed_choices_is_a_definition_error() -> None:
    with pytest.raises(
        ComponentError,
        match=r"default of parameter 'task' is 'regresion'.*"
        r"did you mean 'regression'",
    ):

        @component
        def wrong(out: Output[Dataset], *, task: Literal["regression"] = "regresion") -> None: ...  # type: ignore[assignment]
