"""The standard pipeline through the Python API: the offline half of the loop."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
import yaml
from typer.testing import CliRunner

from shipyard import Project
from shipyard.cli.app import app
from shipyard.components import InfraValidator, read_split, summarize
from shipyard.components.payloads import EvaluationPayload, InfraPayload
from shipyard.config import CONFIG_FILE
from tests.helpers import MakeStandardProject, make_table, warm_pool


def set_config(project: Project, change: dict[str, dict[str, object]]) -> Project:
    settings = yaml.safe_load((project.root / CONFIG_FILE).read_text())
    for section, values in change.items():
        settings[section].update(values)
    (project.root / CONFIG_FILE).write_text(yaml.safe_dump(settings))
    project.close()
    return Project.open(project.root)


def test_regression_run_registers_a_blessed_production_model(
    make_standard_project: MakeStandardProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_standard_project()
    result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()

    production = project.registry.resolve("houses@production")
    assert production.version == 1 and production.blessed and production.infra_validated
    assert production.run_id == result.run.id
    assert production.metrics["r2"] > 0.8
    dataset = project.store.datasets.get(production.dataset_version_id or 0)
    assert (dataset.name, dataset.rows, dataset.columns) == ("houses", 600, 6)
    assert dataset.statistics_id is not None
    summary = summarize(result, registry=project.registry)
    assert summary.version is not None and summary.version.version == 1
    assert summary.statistics is not None and summary.statistics["age"].missing > 0
    evaluation = EvaluationPayload.from_bytes(
        project.artifacts.read_bytes(result.output("Evaluator", "evaluation").digest)
    )
    examples = project.artifacts.materialize(result.output("ExampleGen", "examples").digest, "dir")
    counts = read_split(examples, "eval")["area"].value_counts()
    big_enough = {area for area, count in counts.items() if count >= 30}
    assert {s.value for s in evaluation.candidate.slices} == big_enough
    assert {s.rows for s in evaluation.candidate.slices} == {counts[a] for a in big_enough}
    # Tracking: the evaluator's metrics and the trainer's parameters belong to the run.
    metrics = project.store.tracking.latest_metrics(result.run.id)
    assert metrics["r2"] == pytest.approx(production.metrics["r2"])
    # Conformal intervals come with the package; without a width nothing is decided alone.
    confidence = project.registry.load("houses@production").package.confidence
    assert confidence is not None and confidence.eval_rows == evaluation.candidate.rows
    assert production.metrics["interval_coverage"] == confidence.summary()["interval_coverage"]
    assert metrics["interval_coverage"] == pytest.approx(production.metrics["interval_coverage"])
    assert production.metrics["mean_interval_width"] > 0
    assert production.metrics["expected_auto_share"] == 0.0
    assert "auto_threshold" not in production.metrics
    monkeypatch.chdir(project.root)
    shown = CliRunner().invoke(app, ["models", "show", "houses@production"])
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert (
        f"automation intervals hold {production.metrics['interval_coverage']:.1%} of eval "
        f"values, mean width {production.metrics['mean_interval_width']:.4g}"
    ) in text
    assert (
        "at 'partial' every answer goes to review: no interval is as narrow as "
        "automation.max_interval_width, or it is unset"
    ) in text
    assert project.store.tracking.params(result.run.id)["model.max_iter"] == 30

    model = project.registry.load("houses@production")
    frame = make_table(20, seed=5)
    predictions = model.predict(frame)
    assert len(predictions.values) == 20
    rows = frame.drop(columns="price").astype(object).where(frame.notna(), None)
    served = model.package.predict_rows(rows.to_dict(orient="records"))
    assert served.values == predictions.values


def test_unchanged_rerun_is_fully_cached_and_stores_nothing(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
    objects = sorted(p.name for p in (project.root / ".shipyard/artifacts").rglob("*"))

    again = project.run(project.standard_pipeline(), executor=warm_pool())

    assert len(again.names("cached")) == 9
    assert sorted(p.name for p in (project.root / ".shipyard/artifacts").rglob("*")) == objects
    assert len(project.store.datasets.list()) == 1
    assert [v.version for v in project.registry.versions("houses")] == [1]


def test_classification_with_text_labels(make_standard_project: MakeStandardProject) -> None:
    project = make_standard_project(task="classification")
    assert project.config.data is not None and project.config.data.task == "classification"
    result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()
    production = project.registry.resolve("houses@production")
    assert production.metrics["roc_auc"] > 0.8
    model = project.registry.load("houses:1")
    predictions = model.predict(make_table(10, seed=3, task="classification"))
    assert set(predictions.values) <= {"yes", "no"}
    maps = predictions.probability_maps
    assert maps is not None and all(abs(sum(m.values()) - 1) < 1e-9 for m in maps)


def test_corrupted_data_stops_at_validation_and_production_stays(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
    frame = pd.read_csv(project.root / "houses.csv")
    frame["size"] = frame["size"].map(lambda v: f"{v:.0f} m2")
    frame.drop(columns="rooms").to_csv(project.root / "houses.csv", index=False)

    result = project.run(project.standard_pipeline(), executor=warm_pool())

    assert result.steps["ExampleValidator"].status == "failed"
    error = result.steps["ExampleValidator"].error or ""
    assert "column 'size' holds str values but the schema expects float" in error
    assert "column 'rooms' is missing; the schema requires it" in error
    assert result.steps["Trainer"].status == "skipped"
    assert result.steps["Pusher"].status == "skipped"
    assert project.registry.resolve("houses@production").version == 1
    assert [v.version for v in project.registry.versions("houses")] == [1]


def test_worse_model_is_registered_but_not_promoted(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
    project = set_config(project, {"model": {"params": {"max_iter": 1, "max_depth": 1}}})

    result = project.run(project.standard_pipeline(), executor=warm_pool())

    assert result.succeeded
    candidate = project.registry.resolve("houses:2")
    assert not candidate.blessed and candidate.aliases == []
    failed = candidate.reasons["failed"]
    assert len(failed) == 1 and failed[0].startswith("rmse on overall = ")
    assert "at most 5% above production" in failed[0]
    assert project.registry.resolve("houses@production").version == 1
    history = project.registry.history("houses")
    assert [(e.from_version, e.to_version) for e in history] == [(None, 1)]


def test_better_model_replaces_production_and_history_records_it(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    project = set_config(project, {"model": {"params": {"max_iter": 5}}})
    project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
    project = set_config(project, {"model": {"params": {"max_iter": 60}}})

    project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()

    assert project.registry.resolve("houses@production").version == 2
    moves = [(e.alias, e.from_version, e.to_version) for e in project.registry.history("houses")]
    assert moves == [("production", None, 1), ("production", 1, 2)]


def test_pinned_schema_is_used_for_validation(make_standard_project: MakeStandardProject) -> None:
    project = make_standard_project()
    first = project.run(project.standard_pipeline(), executor=warm_pool())
    schema = yaml.safe_load(
        project.artifacts.read_bytes(first.output("SchemaGen", "schema").digest)
    )
    for column in schema["columns"]:
        if column["name"] == "rooms":
            column["max"] = 3  # an edited, stricter range
    (project.root / "schema.yaml").write_text(yaml.safe_dump(schema))
    project = set_config(
        project, {"data": {"schema": "schema.yaml"}, "validation": {"range_severity": "error"}}
    )

    result = project.run(project.standard_pipeline(), executor=warm_pool())

    assert result.steps["ExampleValidator"].status == "failed"
    assert "column 'rooms' has values in [1, 7]" in (result.steps["ExampleValidator"].error or "")


def probe_processes() -> list[int]:
    """This process's children that are infra probes.

    A thread or child may end while this reads /proc; one that has gone has no probe.
    """
    found = []
    for task in Path("/proc/self/task").iterdir():
        try:
            children = (task / "children").read_text().split()
        except FileNotFoundError:
            continue
        for child in children:
            try:
                command = Path(f"/proc/{child}/cmdline").read_text()
            except FileNotFoundError:
                continue
            if "shipyard.modeling.infra" in command:
                found.append(int(child))
    return found


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")
def test_the_infra_probe_leaves_no_process_behind(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    result = project.run(project.standard_pipeline(), executor=warm_pool())
    result.raise_for_failure()

    infra = InfraPayload.from_bytes(
        project.artifacts.read_bytes(result.output("InfraValidator", "infra").digest)
    )
    assert infra.passed and infra.report.loaded and infra.report.requests == 20
    assert probe_processes() == []
    # Nor does a run that fails before the probe.
    (project.root / "houses.csv").write_text("price\n1\n")
    failed = project.run(project.standard_pipeline(), executor=warm_pool())
    assert not failed.succeeded and failed.steps["InfraValidator"].status == "skipped"
    assert probe_processes() == []


def test_without_a_unix_socket_the_probe_has_no_standby(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("folder-" * 20)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))  # too long a path for a socket

    assert InfraValidator().standby() is None
    assert list(deep.iterdir()) == []


def test_a_model_over_its_latency_budget_stays_a_candidate(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project()
    project = set_config(project, {"infra": {"max_p99_ms": 0.000001}})

    result = project.run(project.standard_pipeline(), executor=warm_pool())

    assert result.succeeded
    version = project.registry.resolve("houses:1")
    assert version.blessed and not version.infra_validated and version.aliases == []
    (reason,) = version.reasons["failed"]
    assert reason.startswith("p99 latency ") and reason.endswith("over the budget of 1e-06 ms")


def test_a_classifier_version_carries_its_calibration_and_automation_plan(
    make_standard_project: MakeStandardProject, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = make_standard_project(task="classification")
    project = set_config(project, {"automation": {"target_precision": 0.9}})

    result = project.run(project.standard_pipeline(), executor=warm_pool())

    result.raise_for_failure()
    version = project.registry.resolve("houses@production")
    confidence = project.registry.load("houses@production").package.confidence
    assert confidence is not None and confidence.task == "classification"
    plan = confidence.plan(target_precision=0.9)
    assert plan.threshold is not None
    expected = confidence.summary() | plan.to_metrics()
    assert set(expected) == {
        "calibration_error_before",
        "calibration_error_after",
        "auto_threshold",
        "expected_auto_share",
        "expected_auto_precision",
    }
    assert {key: version.metrics[key] for key in expected} == expected
    assert version.metrics["calibration_error_before"] == pytest.approx(
        version.metrics["calibration_error"]
    )
    assert version.metrics["expected_auto_precision"] >= 0.9
    tracked = project.store.tracking.latest_metrics(result.run.id)
    assert tracked["calibration_error_after"] == pytest.approx(
        version.metrics["calibration_error_after"]
    )

    monkeypatch.chdir(project.root)
    shown = CliRunner().invoke(app, ["models", "show", "houses:1"], env={"COLUMNS": "200"})

    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert (
        f"automation calibration error {expected['calibration_error_before']:.4f} → "
        f"{expected['calibration_error_after']:.4f} (before → after calibration)"
    ) in text
    assert (
        f"at 'partial': confidence ≥ {plan.threshold:.4f} decides "
        f"{plan.expected_auto_share:.1%} of answers at precision "
        f"{expected['expected_auto_precision']:.1%}"
    ) in text


def test_a_new_target_precision_reruns_only_the_evaluator(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project(task="classification")
    project = set_config(project, {"automation": {"target_precision": 0.8}})
    project.run(project.standard_pipeline(), executor=warm_pool()).raise_for_failure()
    project = set_config(project, {"automation": {"target_precision": 0.99}})

    result = project.run(project.standard_pipeline(), executor=warm_pool())

    result.raise_for_failure()
    assert result.steps["Trainer"].status == "cached"
    assert result.steps["Evaluator"].status == "succeeded"
    evaluation = EvaluationPayload.from_bytes(
        project.artifacts.read_bytes(result.output("Evaluator", "evaluation").digest)
    )
    confidence = project.registry.load("houses:1").package.confidence
    assert confidence is not None
    plan = confidence.plan(target_precision=0.99).to_metrics()
    assert {key: evaluation.candidate.overall.get(key) for key in plan} == plan
    # Production is this very package: no comparison, and the plan never gates.
    assert evaluation.baseline is None and evaluation.blessing.blessed


def test_a_small_eval_split_gives_no_confidence_model(
    make_standard_project: MakeStandardProject,
) -> None:
    project = make_standard_project(task="classification", rows=150)
    project = set_config(project, {"data": {"split": {"eval_fraction": 0.1, "seed": 0}}})

    result = project.run(project.standard_pipeline(), executor=warm_pool())

    result.raise_for_failure()
    version = project.registry.resolve("houses:1")
    assert project.registry.load("houses:1").package.confidence is None
    assert not {"calibration_error_after", "expected_auto_share"} & set(version.metrics)
    reason = project.store.tracking.params(result.run.id)["confidence"]
    assert reason.startswith("none: the eval split has ") and "fewer than 20" in reason
    assert result.output("Trainer", "model").properties["confidence"] is False
