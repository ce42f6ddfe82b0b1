"""Pusher: register the model version and, when it earned it, move ``production``."""

from __future__ import annotations

from shipyard.components.ingestion import source_version
from shipyard.components.payloads import DecisionPayload, EvaluationPayload, InfraPayload
from shipyard.components.types import (
    Examples,
    InfraBlessing,
    ModelEvaluation,
    ModelPackageArtifact,
    PushDecision,
)
from shipyard.pipeline import Component, Input, Output, PublishContext
from shipyard.registry import ModelRegistry, current_user

__all__ = ["Pusher"]


class Pusher(Component):
    """Decides from the blessing and the infra check; registers in ``publish``.

    The version keeps everything needed to serve and audit it: the package, the run, the
    dataset version, the code version, the metrics and the blessing's reasons.  The alias
    moves only for a blessed, infra-validated model; otherwise the version stays a
    candidate.  Registering the same package again finds its existing version, and the
    alias never moves back from a newer version to it.
    """

    model: Input[ModelPackageArtifact]
    evaluation: Input[ModelEvaluation]
    infra: Input[InfraBlessing]
    examples: Input[Examples]
    decision: Output[PushDecision]
    model_name: str
    alias: str = "production"

    def run(self) -> None:
        evaluation = EvaluationPayload.read(self.evaluation.path)
        infra = InfraPayload.read(self.infra.path)
        blessing = evaluation.blessing
        push = blessing.blessed and infra.passed
        decision = DecisionPayload(
            push=push,
            alias=self.alias,
            blessed=blessing.blessed,
            infra_validated=infra.passed,
            reasons=[*blessing.reasons, *infra.reasons],
            checks=blessing.checks,
            metrics=evaluation.candidate.overall,
        )
        decision.write(self.decision.path)
        self.decision.properties.update(push=push)

    def publish(self, context: PublishContext) -> None:
        decision = DecisionPayload.from_bytes(
            context.artifacts.read_bytes(context.outputs["decision"].digest)
        )
        registry = ModelRegistry(context.store, context.artifacts)
        package = context.inputs["model"]
        name = context.params["model_name"]
        version = context.store.models.by_package(name, package.id)
        if version is None:
            dataset = source_version(context.store, context.inputs["examples"])
            version = registry.register(
                name,
                package_id=package.id,
                run_id=context.run.id,
                dataset_version_id=None if dataset is None else dataset.id,
                blessed=decision.blessed,
                infra_validated=decision.infra_validated,
                metrics=decision.metrics,
                reasons={
                    "failed": decision.reasons,
                    "checks": [check.to_dict() for check in decision.checks],
                },
                code_version=context.run.code_version,
            )
        current = registry.find(name, context.params["alias"])
        if current is not None and current.version > version.version:
            # The run made an older version again (its package was cached): moving the
            # alias back would undo a later promotion, by hand or by the loop.
            return
        if decision.push:
            registry.promote(
                name,
                version.version,
                alias=context.params["alias"],
                actor=f"{current_user()} (pipeline run {context.run.id})",
                reason="blessed and infra-validated",
            )
