"""Experiment logging from components, publishing, external fingerprints, stored inputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from shipyard import PipelineError, PipelineValidationError, Project, log_metric
from shipyard.pipeline import Pipeline
from tests.pipeline import components as c


def logged_pipeline(alpha: float) -> Pipeline:
    numbers = c.generate(count=3)
    return Pipeline("tracked", [numbers, c.fit(numbers=numbers.outputs.numbers, alpha=alpha)])


def test_components_log_params_and_metrics_for_their_run(project: Project) -> None:
    result = project.run(logged_pipeline(0.5))
    tracking = project.store.tracking
    assert tracking.params(result.run.id) == {"alpha": 0.5}
    metrics = tracking.metrics(result.run.id)
    assert [(m.key, m.value, m.step) for m in metrics] == [
        ("loss", 0.5, 0),
        ("loss", 0.25, 1),
        ("loss", 0.5 / 3, 2),
    ]
    assert tracking.latest_metrics(result.run.id) == {"loss": 0.5 / 3}


def test_a_cached_run_carries_the_logged_values_it_reused(project: Project) -> None:
    project.run(logged_pipeline(0.5))
    cached = project.run(logged_pipeline(0.5))
    assert cached.names("cached") == ["generate", "fit"]
    assert project.store.tracking.params(cached.run.id) == {"alpha": 0.5}
    assert project.store.tracking.latest_metrics(cached.run.id) == {"loss": 0.5 / 3}


def test_logging_outside_a_step_or_a_run_is_an_error() -> None:
    with pytest.raises(PipelineError, match=r"in a pipeline step or inside `with shipyard"):
        log_metric("x", 1.0)


def test_publish_runs_in_the_runner_after_success_and_cache_hits(project: Project) -> None:
    def pipeline() -> Pipeline:
        numbers = c.generate()
        return Pipeline("pub", [numbers, c.Announces(numbers=numbers.outputs.numbers)])

    first = project.run(pipeline())
    second = project.run(pipeline())
    digest = first.output("Announces", "seen").digest
    for result, cached in ((first, 0.0), (second, 1.0)):
        assert project.store.get_properties("run", result.run.id) == {"announced": digest}
        assert project.store.tracking.latest_metrics(result.run.id) == {"announced_cached": cached}


def test_a_failing_publish_fails_the_step(project: Project) -> None:
    numbers = c.generate()
    announce = c.Announces(numbers=numbers.outputs.numbers, fail_publish=True)
    result = project.run(Pipeline("pub", [numbers, announce]))
    assert result.steps["Announces"].status == "failed"
    assert "publishing failed: RuntimeError: the registry is closed" in (
        result.steps["Announces"].error or ""
    )
    assert result.run.status == "failed"
    recorded = {s.step: s.status for s in project.run_steps(result.run.id)}
    assert recorded["Announces"] == "failed"
    # A failed step is never a cache hit.
    numbers = c.generate()
    again = project.run(Pipeline("pub", [numbers, c.Announces(numbers=numbers.outputs.numbers)]))
    assert again.steps["Announces"].status == "succeeded"


def test_fingerprint_extras_invalidate_the_cache_when_a_file_changes(
    project: Project, tmp_path: Path
) -> None:
    source = tmp_path / "data.txt"
    source.write_text("one")
    first = project.run(Pipeline("f", [c.ReadsFile(source=str(source))]))
    same = project.run(Pipeline("f", [c.ReadsFile(source=str(source))]))
    source.write_text("two")
    changed = project.run(Pipeline("f", [c.ReadsFile(source=str(source))]))

    assert first.names("succeeded") == same.names("cached") == ["ReadsFile"]
    assert changed.names("succeeded") == ["ReadsFile"]
    assert project.artifacts.read_bytes(changed.output("ReadsFile", "copy").digest) == b"two"


def test_inputs_can_be_bound_to_stored_artifacts(project: Project) -> None:
    made = project.run(Pipeline("make", [c.generate(count=4)]))
    stored = made.output("generate", "numbers")

    reused = project.run(Pipeline("reuse", [c.scale(numbers=stored, factor=10)]))
    assert reused.succeeded
    assert project.artifacts.read_bytes(reused.output("scale", "scaled").digest) == (
        b"[0.0, 10.0, 20.0, 30.0]"
    )
    assert project.run_steps(reused.run.id)[0].inputs["numbers"].id == stored.id

    with pytest.raises(PipelineValidationError, match="expects Model but artifact:"):
        Pipeline("wrong", [c.use_model(model=stored)]).validate()
