"""Each standard artifact's payload reads back what it wrote, in the files' format."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from shipyard.components.payloads import (
    AnomaliesPayload,
    DecisionPayload,
    EvaluationPayload,
    ExamplesPayload,
    InfraPayload,
    StatisticsPayload,
)
from shipyard.data.drift import DriftResult
from shipyard.data.statistics import compute_statistics
from shipyard.data.validation import Anomaly, ValidationReport
from shipyard.errors import ArtifactError
from shipyard.modeling.evaluation import Blessing, Check, Evaluation, SliceMetrics
from shipyard.modeling.infra import InfraReport

CHECKS = [
    Check("r2", "overall", "bound", "the bound >= 0", 0.9, True),
    Check("rmse", "overall", "change", "the limit 10", 12.0, False, baseline=9.5),
]
EVALUATION = EvaluationPayload(
    candidate=Evaluation(
        rows=40,
        overall={"r2": 0.9, "rmse": 12.0},
        slices=[SliceMetrics("area", "north", 31, {"r2": 0.8})],
    ),
    baseline=Evaluation(rows=40, overall={"r2": 0.95, "rmse": 9.5}),
    blessing=Blessing(blessed=False, checks=CHECKS),
)
INFRA = InfraPayload(
    InfraReport(loaded=True, load_seconds=0.5, p50_ms=1.0, p99_ms=3.0, requests=20),
    passed=False,
    reasons=["p99 latency 3.00 ms is over the budget of 1 ms"],
)
DECISION = DecisionPayload(
    push=False,
    alias="production",
    blessed=False,
    infra_validated=False,
    reasons=[CHECKS[1].message, *INFRA.reasons],
    checks=CHECKS,
    metrics={"r2": 0.9, "rmse": 12.0},
)
ANOMALIES = AnomaliesPayload(
    train=ValidationReport(
        anomalies=[Anomaly("size", "type_change", "error", "size is text now")],
        drift=[DriftResult("area", "jensen_shannon", 0.3, 0.1, True, 500, 2_000, "drifted")],
    ),
    evaluation=ValidationReport(),
)


@pytest.mark.parametrize("payload", [EVALUATION, INFRA, DECISION, ANOMALIES])
def test_json_payloads_read_back_what_they_wrote(
    payload: EvaluationPayload | InfraPayload | DecisionPayload | AnomaliesPayload,
    tmp_path: Path,
) -> None:
    path = tmp_path / "payload.json"
    payload.write(path)
    assert type(payload).read(path) == payload
    assert type(payload).from_bytes(path.read_bytes()) == payload


def test_the_files_keep_their_format(tmp_path: Path) -> None:
    # Artifacts written before the payloads existed must still read.
    EVALUATION.write(tmp_path / "evaluation.json")
    written = json.loads((tmp_path / "evaluation.json").read_text())
    assert set(written) == {"candidate", "baseline", "blessing"}
    assert written["blessing"]["checks"][1]["message"] == CHECKS[1].message
    INFRA.write(tmp_path / "infra.json")
    assert json.loads((tmp_path / "infra.json").read_text()) == {
        "loaded": True,
        "load_seconds": 0.5,
        "p50_ms": 1.0,
        "p99_ms": 3.0,
        "requests": 20,
        "error": None,
        "passed": False,
        "reasons": INFRA.reasons,
    }
    ANOMALIES.write(tmp_path / "anomalies.json")
    assert set(json.loads((tmp_path / "anomalies.json").read_text())) == {"train", "eval"}


def test_statistics_payload_is_a_folder_of_two_splits(tmp_path: Path) -> None:
    frame = pd.DataFrame({"size": [1.0, 2.0, None], "area": ["a", "b", "a"]})
    payload = StatisticsPayload(
        train=compute_statistics(frame), evaluation=compute_statistics(frame.head(2))
    )
    payload.write(tmp_path / "statistics")
    assert sorted(p.name for p in (tmp_path / "statistics").iterdir()) == [
        "eval.json",
        "train.json",
    ]
    again = StatisticsPayload.read(tmp_path / "statistics")
    assert again.train.column_names == payload.train.column_names
    assert again.train["size"].mean == payload.train["size"].mean == 1.5
    assert again.evaluation.num_rows == 2
    assert StatisticsPayload.read_split(tmp_path / "statistics", "train").num_rows == 3


def test_examples_payload_lives_in_the_artifact_properties() -> None:
    payload = ExamplesPayload("houses", "houses.csv", "ab" * 32, 10, 3, 8, 2)
    assert ExamplesPayload.from_properties(payload.to_properties() | {"other": 1}) == payload
    with pytest.raises(ArtifactError, match="not a valid ExamplesPayload"):
        ExamplesPayload.from_properties({"dataset": "houses"})


def test_a_malformed_payload_is_an_artifact_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "decision.json"
    path.write_text(json.dumps({"push": True}))
    with pytest.raises(ArtifactError, match=r"decision\.json is not a valid DecisionPayload"):
        DecisionPayload.read(path)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "train.json").write_text("{}")
    with pytest.raises(ArtifactError, match="not a valid StatisticsPayload"):
        StatisticsPayload.read(tmp_path / "broken")
