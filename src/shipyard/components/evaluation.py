"""Evaluator and InfraValidator: is the new model good enough, and can it be served?"""

from __future__ import annotations

import math
from typing import Any

from shipyard.components.ingestion import read_split
from shipyard.components.payloads import EvaluationPayload, InfraPayload
from shipyard.components.types import (
    Examples,
    InfraBlessing,
    ModelEvaluation,
    ModelPackageArtifact,
)
from shipyard.config import EvaluationSettings
from shipyard.modeling.evaluation import bless, evaluate
from shipyard.modeling.infra import probe_in_fresh_process
from shipyard.modeling.package import ModelPackage
from shipyard.pipeline import Component, Input, Output, log_metrics

__all__ = ["Evaluator", "InfraValidator"]


class Evaluator(Component):
    """Metrics on the eval split, overall and per slice, and the blessing.

    ``baseline`` is the current production model; it is evaluated on the same rows, and
    ``settings.change_thresholds`` say how much worse the candidate may be.
    """

    examples: Input[Examples]
    model: Input[ModelPackageArtifact]
    baseline: Input[ModelPackageArtifact] | None = None
    evaluation: Output[ModelEvaluation]
    settings: dict[str, Any] = {}

    def fingerprint_inputs(self, digests: dict[str, str]) -> dict[str, str]:
        # A model compared with itself is judged as if there were no production model:
        # re-running an unchanged pipeline after its model went to production is cached.
        if digests.get("baseline") == digests["model"]:
            return {port: digest for port, digest in digests.items() if port != "baseline"}
        return digests

    def run(self) -> None:
        settings = EvaluationSettings.model_validate(self.settings)
        rows = read_split(self.examples.path, "eval")
        candidate = evaluate(
            ModelPackage.load(self.model.path),
            rows,
            slices=settings.slices,
            min_slice_size=settings.min_slice_size,
        )
        baseline = None
        if self.baseline is not None and self.baseline.digest != self.model.digest:
            baseline = evaluate(
                ModelPackage.load(self.baseline.path),
                rows,
                slices=settings.slices,
                min_slice_size=settings.min_slice_size,
            )
        blessing = bless(candidate, baseline, settings)
        log_metrics({k: v for k, v in candidate.overall.items() if math.isfinite(v)})
        EvaluationPayload(candidate, baseline, blessing).write(self.evaluation.path)
        self.evaluation.properties.update(
            blessed=blessing.blessed, compared_with_production=baseline is not None
        )


class InfraValidator(Component):
    """Loads the package in a fresh process and serves canned eval rows within budgets."""

    model: Input[ModelPackageArtifact]
    examples: Input[Examples]
    infra: Output[InfraBlessing]
    max_load_seconds: float = 30.0
    max_p99_ms: float = 500.0
    requests: int = 200

    def run(self) -> None:
        package = ModelPackage.load(self.model.path)
        sample = read_split(self.examples.path, "eval").head(50)
        rows = [
            {c: (None if _missing(v) else v) for c, v in row.items() if c in package.input_columns}
            for row in sample.to_dict(orient="records")
        ]
        report = probe_in_fresh_process(self.model.path, rows, requests=self.requests)
        reasons = []
        if not report.loaded:
            reasons.append(f"the package did not load in a fresh process: {report.error}")
        else:
            assert report.load_seconds is not None and report.p99_ms is not None
            if report.load_seconds > self.max_load_seconds:
                reasons.append(
                    f"loading took {report.load_seconds:.2f} s, over the budget of "
                    f"{self.max_load_seconds:g} s"
                )
            if report.p99_ms > self.max_p99_ms:
                reasons.append(
                    f"p99 latency {report.p99_ms:.2f} ms is over the budget of "
                    f"{self.max_p99_ms:g} ms"
                )
        InfraPayload(report, passed=not reasons, reasons=reasons).write(self.infra.path)
        self.infra.properties.update(passed=not reasons)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))
