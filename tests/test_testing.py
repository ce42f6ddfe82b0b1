"""The conformance suite on custom components, those keeping the contract and those breaking it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from shipyard import Dataset, Output, Project, component
from shipyard.errors import ComponentError, ConformanceFailure
from shipyard.testing import CHECKS, check_component
from tests.pipeline.components import (
    IgnoresUnknown,
    PidInKey,
    PublishesOnce,
    Summarise,
    fragile,
    generate,
    scale,
    takes_anything,
    uncached,
)


def test_a_custom_component_fed_by_another_step_passes_every_check() -> None:
    report = check_component(Summarise(numbers=generate(count=4).outputs.numbers))

    assert report.passed == list(CHECKS)
    assert report.component == "tests.pipeline.components:Summarise"
    summary = report.outputs["summary"]
    assert summary.type_name == "Metrics" and summary.properties == {"total": 6}
    assert report.execution.status == "succeeded"


def test_a_function_component_fed_by_a_file_passes(tmp_path: Path) -> None:
    numbers = tmp_path / "numbers.json"
    numbers.write_text(json.dumps([1, 2, 3]))

    report = check_component(scale(factor=3.0), files={"numbers": numbers})

    assert report.passed == list(CHECKS)
    assert report.execution.inputs["numbers"].type_name == "Dataset"


def test_checks_run_in_a_given_project_and_leave_its_lineage(
    make_project: Callable[..., Project],
) -> None:
    project = make_project()
    report = check_component(generate(count=3), project=project)

    assert report.passed == list(CHECKS)
    steps = project.run_steps(report.execution.run_id)
    assert [(s.step, s.status) for s in steps] == [("generate", "succeeded")]


def test_a_key_that_changes_between_processes_fails_the_fingerprint_check() -> None:
    with pytest.raises(ConformanceFailure, match="a fresh process computes") as caught:
        check_component(PidInKey())
    assert caught.value.check == "fingerprint"
    assert isinstance(caught.value, AssertionError)
    assert "tests.pipeline.components:PidInKey fails the 'fingerprint' check" in str(caught.value)


def test_a_component_swallowing_unknown_parameters_fails_the_parameters_check() -> None:
    with pytest.raises(ConformanceFailure, match="was accepted") as caught:
        check_component(IgnoresUnknown(count=3))
    assert caught.value.check == "parameters"
    assert "not_a_parameter_of_this_component" in str(caught.value)


def test_a_publish_that_is_not_idempotent_fails_the_cache_check() -> None:
    with pytest.raises(ConformanceFailure, match="was published already") as caught:
        check_component(PublishesOnce(numbers=generate().outputs.numbers))
    assert caught.value.check == "cache"


def test_a_failing_step_fails_the_run_check(tmp_path: Path) -> None:
    flag = tmp_path / "flag"
    flag.write_text("stop")
    step = fragile(numbers=generate().outputs.numbers, flag_file=str(flag))

    with pytest.raises(ConformanceFailure, match="refusing to run while") as caught:
        check_component(step)
    assert caught.value.check == "run"


def test_a_component_workers_cannot_import_fails_first() -> None:
    @component
    def local(numbers: Output[Dataset]) -> None:
        numbers.path.write_text("[]")

    with pytest.raises(ConformanceFailure, match="cannot import component") as caught:
        check_component(local())
    assert caught.value.check == "importable"


def test_an_uncached_component_skips_the_cache_check() -> None:
    report = check_component(uncached())

    assert report.passed == [check for check in CHECKS if check != "cache"]
    assert report.skipped == {"cache": "the component is declared with cache=False"}


def test_a_parameter_of_any_type_is_noted_not_refused() -> None:
    report = check_component(takes_anything(extra=[1]))

    assert report.passed == list(CHECKS)
    assert report.notes == ["parameter 'extra' accepts a value of any type"]


def test_files_must_name_an_input() -> None:
    with pytest.raises(ComponentError, match="'number', which is not an input of scale"):
        check_component(scale(), files={"number": Path("numbers.json")})
