"""Runs compared side by side through the Python API."""

from __future__ import annotations

import pytest

from shipyard import Project, RecordNotFound
from shipyard.pipeline import Pipeline
from tests.pipeline import components as c


def tracked(alpha: float) -> Pipeline:
    numbers = c.generate(count=3)
    return Pipeline("tracked", [numbers, c.fit(numbers=numbers.outputs.numbers, alpha=alpha)])


def test_compare_runs_lines_up_parameters_and_metrics(project: Project) -> None:
    first = project.run(tracked(0.5)).run
    second = project.run(tracked(0.8)).run

    comparison = project.compare_runs([second.id, first.id])

    assert [run.id for run in comparison.runs] == [second.id, first.id]
    assert comparison.row("run").values == ("tracked", "tracked")
    assert not comparison.row("run").differs
    assert comparison.row("param fit.alpha").values == (0.8, 0.5)
    assert comparison.row("param alpha").kind == "param"
    assert comparison.row("metric loss").values == pytest.approx((0.8 / 3, 0.5 / 3))
    assert comparison.row("metric loss").differs
    assert comparison.row("param generate.count").values == (3, 3)
    with pytest.raises(KeyError):
        comparison.row("metric nothing")


def test_a_value_only_one_run_has_is_none_for_the_other(project: Project) -> None:
    plain = project.run(Pipeline("plain", [c.generate(count=3)])).run
    fitted = project.run(tracked(0.5)).run

    comparison = project.compare_runs([plain.id, fitted.id])

    assert comparison.row("metric loss").values == (None, pytest.approx(0.5 / 3))
    assert comparison.row("run").differs


def test_comparing_an_unknown_run_names_it(project: Project) -> None:
    run = project.run(tracked(0.5)).run
    with pytest.raises(RecordNotFound, match="run 99 does not exist"):
        project.compare_runs([run.id, 99])
