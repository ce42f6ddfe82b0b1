"""What the standard artifacts hold: one typed payload per artifact type.

The component that makes an artifact writes it with ``write(path)``; every reader — the
next component, the Pusher's ``publish``, the run summary — reads it back with
``read(path)`` (or ``from_bytes`` for bytes from the artifact store), so the shape of each
file is defined once and nothing reads a payload by string keys.

    artifact type       payload              on disk
    Examples            ExamplesPayload      the artifact's properties (no file of its own)
    ExampleStatistics   StatisticsPayload    a folder: train.json and eval.json
    ExampleAnomalies    AnomaliesPayload     JSON: {"train": report, "eval": report}
    ModelEvaluation     EvaluationPayload    JSON: candidate, baseline and blessing
    InfraBlessing       InfraPayload         JSON: the probe's report, verdict and reasons
    PushDecision        DecisionPayload      JSON: whether to move the alias, and why
    TuningReport        TuningPayload        JSON: the study's best parameters and trials
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Self

from shipyard.data.statistics import DatasetStatistics
from shipyard.data.validation import ValidationReport
from shipyard.errors import ArtifactError, DataError
from shipyard.modeling.evaluation import Blessing, Check, Evaluation
from shipyard.modeling.infra import InfraReport
from shipyard.modeling.tuning import TuningResult

__all__ = [
    "AnomaliesPayload",
    "DecisionPayload",
    "EvaluationPayload",
    "ExamplesPayload",
    "InfraPayload",
    "StatisticsPayload",
    "TuningPayload",
]

_TRAIN, _EVAL = "train", "eval"


def _required(spec: Field[Any]) -> bool:
    return spec.default is MISSING and spec.default_factory is MISSING


def _invalid(kind: type, source: str, exc: Exception) -> ArtifactError:
    return ArtifactError(
        f"{source} is not a valid {kind.__name__} ({type(exc).__name__}: {exc}); it was "
        "written by another version of shipyard — run the pipeline again with --no-cache"
    )


class _JsonPayload:
    """``read``/``write``/``from_bytes`` for a payload stored as one JSON file."""

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        raise NotImplementedError

    def write(self, path: Path) -> None:
        """Write the payload as JSON (keys sorted, so equal payloads are equal bytes)."""
        path.write_text(json.dumps(self.to_dict(), indent=1, sort_keys=True))

    @classmethod
    def read(cls, path: Path) -> Self:
        """Read a payload ``write`` wrote; a malformed file is an ``ArtifactError``."""
        return cls.from_bytes(path.read_bytes(), source=str(path))

    @classmethod
    def from_bytes(cls, data: bytes, *, source: str = "the artifact") -> Self:
        """Read a payload from bytes of the artifact store."""
        try:
            return cls.from_dict(json.loads(data))
        except (KeyError, TypeError, ValueError, DataError) as exc:
            raise _invalid(cls, source, exc) from exc


@dataclass(frozen=True)
class ExamplesPayload:
    """What ExampleGen records about the dataset versions it ingested and split.

    ``rows`` and ``columns`` are the source's; ``train_rows`` includes the
    ``feedback_rows`` labelled predictions appended to the training split, which form
    dataset ``feedback_dataset``'s version ``feedback_digest`` (``None`` without
    feedback); ``feedback_sources`` counts them by who gave the label.
    """

    dataset: str
    source: str
    source_digest: str
    rows: int
    columns: int
    train_rows: int
    eval_rows: int
    feedback_dataset: str | None = None
    feedback_digest: str | None = None
    feedback_rows: int = 0
    feedback_sources: dict[str, int] = field(default_factory=dict)

    def to_properties(self) -> dict[str, Any]:
        """The artifact properties that hold the payload."""
        return asdict(self)

    @classmethod
    def from_properties(cls, properties: Mapping[str, Any]) -> ExamplesPayload:
        """Read the payload back from an ``Examples`` artifact's properties.

        Fields with a default may be absent: artifacts made before they existed.
        """
        try:
            return cls(
                **{
                    f.name: properties[f.name]
                    for f in fields(cls)
                    if f.name in properties
                    or (f.default is MISSING and f.default_factory is MISSING)
                }
            )
        except KeyError as exc:
            raise _invalid(cls, "the Examples artifact's properties", exc) from exc

    def dataset_versions(self) -> list[tuple[str, str]]:
        """The ``(name, digest)`` of each dataset version the examples hold."""
        held = [(self.dataset, self.source_digest)]
        if self.feedback_dataset is not None and self.feedback_digest is not None:
            held.append((self.feedback_dataset, self.feedback_digest))
        return held


@dataclass(frozen=True)
class StatisticsPayload:
    """Statistics of the training and the evaluation split."""

    train: DatasetStatistics
    evaluation: DatasetStatistics

    def write(self, folder: Path) -> None:
        """Write ``train.json`` and ``eval.json`` into ``folder`` (made here)."""
        folder.mkdir()
        for name, statistics in ((_TRAIN, self.train), (_EVAL, self.evaluation)):
            body = json.dumps(statistics.to_dict(), sort_keys=True)
            (folder / f"{name}.json").write_text(body)

    @classmethod
    def read(cls, folder: Path) -> StatisticsPayload:
        """Read both splits' statistics from ``folder``."""
        return cls(train=cls.read_split(folder, _TRAIN), evaluation=cls.read_split(folder, _EVAL))

    @staticmethod
    def read_split(folder: Path, split: str) -> DatasetStatistics:
        """One split's statistics (``train`` or ``eval``), without reading the other."""
        path = folder / f"{split}.json"
        try:
            return DatasetStatistics.from_dict(json.loads(path.read_text()))
        except (KeyError, TypeError, ValueError, DataError) as exc:
            raise _invalid(StatisticsPayload, str(path), exc) from exc


@dataclass(frozen=True)
class AnomaliesPayload(_JsonPayload):
    """The validation report of each split (drift is measured on the training split)."""

    train: ValidationReport
    evaluation: ValidationReport

    def to_dict(self) -> dict[str, Any]:
        return {_TRAIN: self.train.to_dict(), _EVAL: self.evaluation.to_dict()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnomaliesPayload:
        return cls(
            train=ValidationReport.from_dict(data[_TRAIN]),
            evaluation=ValidationReport.from_dict(data[_EVAL]),
        )


@dataclass(frozen=True)
class EvaluationPayload(_JsonPayload):
    """The candidate's metrics, production's on the same rows (if any), and the blessing."""

    candidate: Evaluation
    baseline: Evaluation | None
    blessing: Blessing

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate.to_dict(),
            "baseline": None if self.baseline is None else self.baseline.to_dict(),
            "blessing": self.blessing.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationPayload:
        baseline = data["baseline"]
        return cls(
            candidate=Evaluation.from_dict(data["candidate"]),
            baseline=None if baseline is None else Evaluation.from_dict(baseline),
            blessing=Blessing.from_dict(data["blessing"]),
        )


@dataclass(frozen=True)
class InfraPayload(_JsonPayload):
    """The fresh-process probe's report, and whether it kept within the budgets."""

    report: InfraReport
    passed: bool
    reasons: list[str]

    def to_dict(self) -> dict[str, Any]:
        return self.report.to_dict() | {"passed": self.passed, "reasons": list(self.reasons)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> InfraPayload:
        report = {f.name: data[f.name] for f in fields(InfraReport)}
        return cls(
            report=InfraReport(**report), passed=data["passed"], reasons=list(data["reasons"])
        )


@dataclass(frozen=True)
class DecisionPayload(_JsonPayload):
    """Whether the Pusher moves ``alias`` to the new version, and the evidence for it."""

    push: bool
    alias: str
    blessed: bool
    infra_validated: bool
    reasons: list[str]
    checks: list[Check]
    metrics: dict[str, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "push": self.push,
            "alias": self.alias,
            "blessed": self.blessed,
            "infra_validated": self.infra_validated,
            "reasons": list(self.reasons),
            "checks": [check.to_dict() for check in self.checks],
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionPayload:
        return cls(
            push=data["push"],
            alias=data["alias"],
            blessed=data["blessed"],
            infra_validated=data["infra_validated"],
            reasons=list(data["reasons"]),
            checks=[Check.from_dict(check) for check in data["checks"]],
            metrics=dict(data["metrics"]),
        )


@dataclass(frozen=True)
class TuningPayload(_JsonPayload):
    """What the Tuner's study found: the Trainer reads ``result.best_params``."""

    result: TuningResult

    def to_dict(self) -> dict[str, Any]:
        return self.result.to_dict()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningPayload:
        return cls(result=TuningResult.from_dict(data))
