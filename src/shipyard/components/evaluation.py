"""Evaluator and InfraValidator: is the new model good enough, and can it be served?"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from shipyard.components.ingestion import split_head
from shipyard.components.payloads import EvaluationPayload, InfraPayload
from shipyard.components.training import PACKAGE_MODULE, sampled_split
from shipyard.components.types import (
    Examples,
    InfraBlessing,
    ModelEvaluation,
    ModelPackageArtifact,
)
from shipyard.config import EvaluationSettings
from shipyard.modeling.evaluation import Evaluation, bless, evaluate
from shipyard.modeling.infra import ProbeStandby, probe_in_fresh_process
from shipyard.modeling.manifest import read_manifest
from shipyard.pipeline import Component, Input, Output, Standby, current_step, log_metrics

if TYPE_CHECKING:
    from shipyard.modeling.package import ModelPackage

__all__ = ["Evaluator", "InfraValidator"]


class Evaluator(Component):
    """Metrics on the eval split, overall and per slice, and the blessing.

    ``baseline`` is the current production model; it is evaluated on the same rows, and
    ``settings.change_thresholds`` say how much worse the candidate may be.

    The overall metrics also hold the package's confidence summary and its automation
    plan for ``target_precision`` (classifiers) or ``max_interval_width`` (regressors),
    so they are stored with the registered version.  They are informational: only a
    threshold configured on one of them gates the blessing.
    """

    examples: Input[Examples]
    model: Input[ModelPackageArtifact]
    baseline: Input[ModelPackageArtifact] | None = None
    evaluation: Output[ModelEvaluation]
    settings: dict[str, Any] = {}
    target_precision: float | None = None
    max_interval_width: float | None = None
    max_rows: int | None = None

    def fingerprint_inputs(self, digests: dict[str, str]) -> dict[str, str]:
        # A model compared with itself is judged as if there were no production model:
        # re-running an unchanged pipeline after its model went to production is cached.
        if digests.get("baseline") == digests["model"]:
            return {port: digest for port, digest in digests.items() if port != "baseline"}
        return digests

    def imports(self, params: dict[str, Any]) -> tuple[str, ...]:
        return (PACKAGE_MODULE,)

    def run(self) -> None:
        # Imported by the steps that load a model: a cached run never does.
        from shipyard.modeling.package import ModelPackage

        settings = EvaluationSettings.model_validate(self.settings)
        rows = sampled_split(self.examples.path, "eval", max_rows=self.max_rows, seed=0)
        package = ModelPackage.load(self.model.path)
        candidate = self._with_confidence(
            package,
            evaluate(package, rows, slices=settings.slices, min_slice_size=settings.min_slice_size),
        )
        baseline = None
        if self.baseline is not None and self.baseline.digest != self.model.digest:
            production = ModelPackage.load(self.baseline.path)
            baseline = self._with_confidence(
                production,
                evaluate(
                    production, rows, slices=settings.slices, min_slice_size=settings.min_slice_size
                ),
            )
        blessing = bless(candidate, baseline, settings)
        log_metrics({k: v for k, v in candidate.overall.items() if math.isfinite(v)})
        EvaluationPayload(candidate, baseline, blessing).write(self.evaluation.path)
        self.evaluation.properties.update(
            blessed=blessing.blessed, compared_with_production=baseline is not None
        )

    def _with_confidence(self, package: ModelPackage, evaluation: Evaluation) -> Evaluation:
        """``evaluation`` with the package's confidence summary and plan (if it has one)."""
        if package.confidence is None:
            return evaluation
        plan = package.confidence.plan(
            target_precision=self.target_precision, max_interval_width=self.max_interval_width
        )
        overall = evaluation.overall | package.confidence.summary() | plan.to_metrics()
        return replace(evaluation, overall=overall)


class InfraValidator(Component):
    """Loads the package in a fresh process and serves canned eval rows within budgets."""

    model: Input[ModelPackageArtifact]
    examples: Input[Examples]
    infra: Output[InfraBlessing]
    max_load_seconds: float = 30.0
    max_p99_ms: float = 500.0
    requests: int = 200

    def standby(self) -> Standby | None:
        # The probe's process imports scikit-learn while the steps before this one run.
        try:
            return ProbeStandby.start()
        except OSError:  # no Unix sockets (or a path too long): a fresh process later
            return None

    def run(self) -> None:
        # The manifest says what the model reads; loading the model here would import
        # scikit-learn into this process for nothing: the probe loads it elsewhere.
        columns = set(read_manifest(self.model.path).input_columns)
        sample = split_head(self.examples.path, "eval", 50)
        rows = [
            {c: (None if _missing(v) else v) for c, v in row.items() if c in columns}
            for row in sample.to_dict(orient="records")
        ]
        report = probe_in_fresh_process(
            self.model.path, rows, requests=self.requests, standby=current_step().standby
        )
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
