"""The closed loop of a model: trigger → retrain → gate on recent truth → canary →
promoted or rolled back, with no person needed (or one approval, if the policy asks).

A retrain is a row in the metadata store that moves through these states, each step an
event with its reason:

    triggered ─▶ trained ─▶ gated ─▶ (awaiting_approval ─▶) canary ─▶ promoted
        │           │                                          └──▶ rolled_back
        └▶ failed   └▶ rejected

Each pass of ``shipyard monitor`` advances it by what is due, under the model's lease.
The state is stored before a step's effect is relied on, and every effect can be found
again: a pass killed while training re-runs the pipeline, whose cached steps and
registration by package give the same version, never a second one; a pass killed after
deploying finds the deployment of its version and adopts it.

>>> events = project.loop.run_once()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from shipyard.artifacts import ArtifactStore
from shipyard.config import ProjectConfig
from shipyard.errors import DeploymentError, ShipyardError
from shipyard.loop.gate import judge, split_fresh
from shipyard.loop.triggers import due_trigger
from shipyard.monitoring.monitor import local_owner, take_lease
from shipyard.pipeline import Pipeline, RunResult
from shipyard.prediction_log import PredictionLog, parse_duration
from shipyard.store import MetadataStore
from shipyard.store.records import LoopEventRecord, LoopRunRecord
from shipyard.store.tables import utcnow

__all__ = ["RetrainingLoop"]

LEASE_SECONDS = 900.0
ACTOR = "shipyard loop"
_MAX_STEPS = 8  # steps one pass may take for one model (a whole loop is six)


class RetrainingLoop:
    """The retraining policy of a project's model (``loop`` in ``shipyard.yaml``).

    ``registry`` and ``deployments`` are the project's; ``run`` runs a pipeline as
    ``Project.run`` does.
    """

    def __init__(
        self,
        store: MetadataStore,
        artifacts: ArtifactStore,
        registry: Any,
        deployments: Any,
        log: PredictionLog,
        config: ProjectConfig,
        *,
        root: Path,
        run: Callable[[Pipeline], RunResult],
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.artifacts = artifacts
        self.registry = registry
        self.deployments = deployments
        self.log = log
        self.config = config
        self.root = root
        self.run = run
        self.owner = owner or local_owner()
        self.clock = clock

    @property
    def settings(self) -> Any:
        return self.config.loop

    def run_once(self, model: str | None = None) -> list[LoopEventRecord]:
        """Advance the loop of the project's model by what is due; the steps taken.

        Only the model the project's standard pipeline trains has a policy: another
        ``model`` takes no step.
        """
        name = self.config.model_name if self.config.data is not None else None
        before = self.store.loop.last_event_id()
        held = name is not None and model in (None, name)
        if held and take_lease(self.store.monitoring, str(name), self.owner, LEASE_SECONDS):
            try:
                self._advance(str(name))
            finally:
                self.store.monitoring.release_lease(str(name), self.owner)
        self._deliver()
        return self.store.loop.events(after=before)

    def history(self, model: str) -> list[LoopEventRecord]:
        """Every step of ``model``'s retrains, oldest first."""
        self.registry.versions(model)  # an unknown name is a ModelNotFound here
        return self.store.loop.events(model)

    def approve(self, model: str, *, actor: str, reason: str = "") -> LoopRunRecord:
        """Let ``model``'s gated retrain go on to its canary (``approval: manual``)."""
        current = self.store.loop.current(model)
        if current is None or current.status not in ("gated", "awaiting_approval"):
            state = "no retrain" if current is None else f"its retrain is {current.status}"
            raise DeploymentError(
                f"nothing of '{model}' awaits approval ({state}); `shipyard loop history "
                f"{model}` shows where it is"
            )
        said = f": {reason}" if reason else ""
        return self.store.loop.step(
            current.id,
            "awaiting_approval",
            event="approved",
            reason=f"approved by {actor}{said}",
            approved_by=actor,
        )

    # -- the steps ------------------------------------------------------------------

    def _advance(self, model: str) -> None:
        current = self.store.loop.current(model)
        if current is None:
            current = self._trigger(model)
        for _ in range(_MAX_STEPS):
            if current is None or current.finished:
                return
            following = self._step(current)
            if following is None:
                return  # waiting: for an approval, or the canary analysis
            current = following

    def _trigger(self, model: str) -> LoopRunRecord | None:
        production = self.registry.find(model, "production")
        if not self.settings.enabled or production is None:
            return None
        trigger = due_trigger(
            model,
            self.settings,
            store=self.store,
            production=production,
            labelled=lambda: self.log.labelled_rows(model),
            source_digest=self._source_digest,
            now=self.clock(),
        )
        if trigger is None:
            return None
        return self.store.loop.start(
            model,
            trigger=trigger.reason,
            production_version=production.version,
            details=trigger.details,
        )

    def _source_digest(self) -> str | None:
        from shipyard.data.ingest import source_digest

        data = self.config.data
        source = None if data is None else (self.root / data.source).resolve()
        return source_digest(source) if source is not None and source.exists() else None

    def _step(self, current: LoopRunRecord) -> LoopRunRecord | None:
        if current.status == "triggered":
            return self._retrain(current)
        if current.status == "trained":
            return self._gate(current)
        if current.status == "gated":
            if self.settings.approval == "manual" and current.approved_by is None:
                return self.store.loop.step(
                    current.id,
                    "awaiting_approval",
                    reason=f"the policy asks for approval: shipyard approve {current.model}",
                )
            return self._deploy(current)
        if current.status == "awaiting_approval":
            return None if current.approved_by is None else self._deploy(current)
        if current.status == "canary":
            return self._follow_canary(current)
        return None

    def _fresh_labels(self, model: str) -> pd.DataFrame:
        labelled = self.log.labelled_rows(model)
        horizon = self.clock() - timedelta(seconds=parse_duration(self.settings.label_horizon))
        return labelled[labelled["received_at"] >= horizon]

    def _retrain(self, current: LoopRunRecord) -> LoopRunRecord:
        from shipyard.components.standard import feedback_snapshot, standard_pipeline

        fresh = self._fresh_labels(current.model)
        train, held = split_fresh(fresh, self.settings.holdout_share)
        try:
            snapshot = feedback_snapshot(
                train, config=self.config, root=self.root, artifacts=self.artifacts
            )
            pipeline = standard_pipeline(
                self.config,
                root=self.root,
                store=self.store,
                registry=self.registry,
                feedback=None if snapshot is None else snapshot[0],
                feedback_digest=None if snapshot is None else snapshot[1],
                alias="candidate",
            )
            result = self.run(pipeline)
            result.raise_for_failure()
        except ShipyardError as exc:
            return self.store.loop.step(current.id, "failed", reason=f"retraining failed: {exc}")
        package = result.output("Trainer", "model")
        version = self.store.models.by_package(current.model, package.id)
        if version is None:
            return self.store.loop.step(
                current.id, "failed", reason=f"run {result.run.id} registered no version"
            )
        details = {
            "run": result.run.id,
            "version": version.version,
            "fresh_labels": len(fresh),
            "trained_on_labels": len(train),
            "held_back": len(held),
            "blessed": version.blessed,
            "cached_steps": result.names("cached"),
        }
        if version.version == current.production_version:
            return self.store.loop.step(
                current.id,
                "rejected",
                reason=f"retraining made {version.ref} again, which already serves: the "
                "data and labels hold nothing new",
                details=details,
                version=version.version,
                run_id=result.run.id,
            )
        return self.store.loop.step(
            current.id,
            "trained",
            reason=f"run {result.run.id} trained {version.ref} on the source and "
            f"{len(train)} fresh labels ({len(held)} held back for the gate)",
            details=details,
            version=version.version,
            run_id=result.run.id,
            holdout=sorted(held["prediction_id"].astype(str)),
        )

    def _gate(self, current: LoopRunRecord) -> LoopRunRecord:
        from shipyard.data import feedback_rows, read_table

        assert current.version is not None and current.production_version is not None
        model = current.model
        candidate = self.registry.resolve(f"{model}:{current.version}")
        if not candidate.infra_validated:
            failed = "; ".join(candidate.reasons.get("failed", [])) or "no reason recorded"
            return self.store.loop.step(
                current.id,
                "rejected",
                reason=f"{candidate.ref} did not pass infra validation: {failed}",
            )
        production = self.registry.find(model, "production")
        if production is None or production.version != current.production_version:
            moved = "none" if production is None else production.ref
            return self.store.loop.step(
                current.id,
                "rejected",
                reason=f"production moved from {model}:{current.production_version} to "
                f"{moved} since the retrain started; the next trigger judges against it",
            )
        data = self.config.data
        assert data is not None
        held = set(current.holdout or [])
        labelled = self.log.labelled_rows(model)
        labelled = labelled[labelled["prediction_id"].astype(str).isin(held)]
        source = read_table((self.root / data.source).resolve())
        rows = feedback_rows(labelled, like=source, target=data.target)
        result = judge(
            self.registry.load(candidate),
            self.registry.load(production),
            rows,
            target=data.target,
            task=data.task,
            margin=self.settings.margin,
            min_labels=self.settings.min_fresh_labels,
            confidence=self.settings.confidence,
        )
        details = {**result.details, "blessed_on_eval_split": candidate.blessed}
        return self.store.loop.step(
            current.id,
            "gated" if result.passed else "rejected",
            reason=result.reason,
            details=details,
            gate=details,
        )

    def _deploy(self, current: LoopRunRecord) -> LoopRunRecord | None:
        assert current.version is not None
        model = current.model
        active = self.store.deployments.active(model)
        if active:
            if active[0].candidate_version != current.version:
                return None  # another rollout is under way: wait for it to end
            return self._canary(current, active[0].id, "found the canary a pass deployed")
        candidate = self.registry.resolve(f"{model}:{current.version}")
        why = "passed the gate on recent truth"
        record = self.deployments.deploy(
            model,
            current.version,
            strategy="canary",
            analyze=True,
            expects_change=True,
            force=not candidate.blessed,
            reason=f"retrain {current.id} {why}",
            actor=ACTOR,
        )
        return self._canary(current, record.id, f"deployed {candidate.ref} as a canary")

    def _canary(self, current: LoopRunRecord, deployment: int, reason: str) -> LoopRunRecord:
        steps = self.config.deployments.steps
        return self.store.loop.step(
            current.id,
            "canary",
            reason=f"{reason}; the analysis raises it through {steps} percent",
            details={"deployment": deployment},
            deployment_id=deployment,
        )

    def _follow_canary(self, current: LoopRunRecord) -> LoopRunRecord | None:
        assert current.deployment_id is not None
        deployment = self.store.deployments.get(current.deployment_id)
        if deployment is None or deployment.active:
            return None
        last = self.store.deployments.history(current.model)[-1]
        if deployment.status == "promoted":
            return self.store.loop.step(
                current.id,
                "promoted",
                reason=f"{current.model}:{current.version} is production: {last.reason}",
            )
        return self.store.loop.step(
            current.id,
            "rolled_back",
            reason=f"the canary of {current.model}:{current.version} was rolled back: "
            f"{last.reason}",
        )

    def _deliver(self) -> None:
        """POST every step the webhook has not had (monitoring.webhook)."""
        webhook = self.config.monitoring.webhook
        if webhook is None:
            return
        from shipyard.monitoring.webhook import deliver

        project = self.config.name
        owed = [
            (
                event.id,
                {"event": f"loop.{event.step}", "project": project, "loop": event.to_dict()},
                self._delivered(event.id),
            )
            for event in self.store.loop.events(undelivered=True)
        ]
        deliver(webhook, owed)

    def _delivered(self, event_id: int) -> Callable[[str | None], None]:
        def record(error: str | None) -> None:
            if error is None:
                self.store.loop.mark_delivered(event_id)

        return record
