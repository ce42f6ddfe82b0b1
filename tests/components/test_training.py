"""Transform and Trainer refuse parameter typos before anything runs."""

from __future__ import annotations

import pytest

from shipyard import Pipeline, PipelineValidationError
from shipyard.components import ExampleGen, SchemaGen, StatisticsGen, Trainer, Transform


def test_standard_components_refuse_a_choice_typo_by_name() -> None:
    examples = ExampleGen(source="houses.csv", name="houses")
    statistics = StatisticsGen(examples=examples.outputs.examples)
    schema = SchemaGen(statistics=statistics.outputs.statistics)
    transform = Transform(
        examples=examples.outputs.examples,
        schema=schema.outputs.schema,
        target="price",
        impute="Mean",
    )
    trainer = Trainer(
        examples=examples.outputs.examples,
        transform=transform.outputs.transform,
        schema=schema.outputs.schema,
        task="clasification",
        target="price",
    )
    pipeline = Pipeline("typos", [examples, statistics, schema, transform, trainer])
    with pytest.raises(PipelineValidationError) as caught:
        pipeline.validate()
    assert caught.value.problems == [
        "step 'Transform' (component Transform): parameter 'impute' must be one of "
        "'median', 'mean', not 'Mean' (did you mean 'mean'?)",
        "step 'Trainer' (component Trainer): parameter 'task' must be one of "
        "'regression', 'classification', not 'clasification' (did you mean 'classification'?)",
    ]
