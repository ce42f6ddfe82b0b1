"""What a standard run found, read back from its artifacts for people (and tests)."""

from __future__ import annotations

from dataclasses import dataclass, field

from shipyard.components.payloads import (
    AnomaliesPayload,
    DecisionPayload,
    EvaluationPayload,
    ExamplesPayload,
    InfraPayload,
    StatisticsPayload,
    TuningPayload,
)
from shipyard.data.drift import DriftResult
from shipyard.data.statistics import DatasetStatistics
from shipyard.data.validation import Anomaly
from shipyard.modeling.evaluation import Blessing
from shipyard.modeling.tuning import TuningResult
from shipyard.pipeline import RunResult
from shipyard.registry import ModelRegistry
from shipyard.store.records import ModelVersionRecord

__all__ = ["StandardSummary", "summarize"]


@dataclass
class StandardSummary:
    """What each stage of a standard run found, for people to read."""

    dataset: ExamplesPayload | None = None
    statistics: DatasetStatistics | None = None
    validated: bool = False
    anomalies: list[Anomaly] = field(default_factory=list)
    drift: list[DriftResult] = field(default_factory=list)
    tuning: TuningResult | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] | None = None
    blessing: Blessing | None = None
    infra: InfraPayload | None = None
    decision: DecisionPayload | None = None
    version: ModelVersionRecord | None = None


def summarize(result: RunResult, *, registry: ModelRegistry) -> StandardSummary:
    """Read the artifacts of a standard run back into a ``StandardSummary``."""
    artifacts = registry.artifacts
    summary = StandardSummary()

    def read_bytes(step: str, port: str) -> bytes:
        return artifacts.read_bytes(result.output(step, port).digest)

    steps = result.steps
    if steps["ExampleGen"].status in ("succeeded", "cached"):
        examples = result.output("ExampleGen", "examples")
        summary.dataset = ExamplesPayload.from_properties(examples.properties)
    if steps["StatisticsGen"].status in ("succeeded", "cached"):
        folder = artifacts.materialize(result.output("StatisticsGen", "statistics").digest, "dir")
        summary.statistics = StatisticsPayload.read_split(folder, "train")
    if steps["ExampleValidator"].status in ("succeeded", "cached"):
        report = AnomaliesPayload.from_bytes(read_bytes("ExampleValidator", "anomalies"))
        summary.validated = True
        summary.anomalies = [*report.train.anomalies, *report.evaluation.anomalies]
        summary.drift = report.train.drift
    if "Tuner" in steps and steps["Tuner"].status in ("succeeded", "cached"):
        summary.tuning = TuningPayload.from_bytes(read_bytes("Tuner", "tuning")).result
    if steps["Evaluator"].status in ("succeeded", "cached"):
        evaluation = EvaluationPayload.from_bytes(read_bytes("Evaluator", "evaluation"))
        summary.metrics = evaluation.candidate.overall
        baseline = evaluation.baseline
        summary.baseline_metrics = None if baseline is None else baseline.overall
        summary.blessing = evaluation.blessing
    if steps["InfraValidator"].status in ("succeeded", "cached"):
        summary.infra = InfraPayload.from_bytes(read_bytes("InfraValidator", "infra"))
    if steps["Pusher"].status in ("succeeded", "cached"):
        summary.decision = DecisionPayload.from_bytes(read_bytes("Pusher", "decision"))
        package = result.output("Trainer", "model")
        summary.version = registry.store.models.by_package(
            result.run.params["Pusher"]["model_name"], package.id
        )
    return summary
