"""Deploying a candidate version beside a model's production version, and every change
after: move a canary, switch blue-green, promote, roll back.

Each change is one transaction in the metadata store that records who made it, when,
the state before and after, and why; running servers follow within a second or two.
A change that cannot be made raises a ``DeploymentError`` naming the problem, and
nothing is changed.

>>> deployments = project.deployments  # doctest: +SKIP
>>> deployments.deploy("ames", 4, strategy="canary", percent=10)  # doctest: +SKIP
>>> deployments.set_percent("ames", 50)  # doctest: +SKIP
>>> deployments.promote("ames")  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from shipyard.choices import Strategy
from shipyard.config import DeploymentSettings, Task
from shipyard.errors import (
    DeploymentConflict,
    DeploymentError,
    ModelNotFound,
    NoDeployment,
    did_you_mean,
)
from shipyard.registry import ModelRegistry, current_user
from shipyard.registry.references import parse_model_ref
from shipyard.store import MetadataStore
from shipyard.store.records import (
    ArmCounts,
    DeploymentEventRecord,
    DeploymentRecord,
    ModelVersionRecord,
)
from shipyard.store.tables import DeploymentRow, utcnow

if TYPE_CHECKING:
    from shipyard.deployments.comparison import Comparison
    from shipyard.prediction_log import PredictionLog

__all__ = ["STRATEGIES", "Deployments"]

STRATEGIES: tuple[Strategy, ...] = ("shadow", "canary", "blue-green")
_DEFAULT_PERCENT = {"shadow": 100.0, "canary": 10.0}


def _check_percent(percent: float, field: str = "percent") -> float:
    if isinstance(percent, bool) or not isinstance(percent, int | float):
        raise DeploymentError(
            f"{field} must be a number from 0 to 100, not {percent!r}", field=field
        )
    if not (math.isfinite(percent) and 0 <= percent <= 100):
        raise DeploymentError(f"{field} must be from 0 to 100, not {percent:g}", field=field)
    return float(percent)


def _moment(value: datetime | str | None) -> datetime | None:
    from shipyard.prediction_log import parse_since

    if isinstance(value, str):
        return parse_since(value)
    if value is not None and value.tzinfo is None:
        raise DeploymentError(f"since {value} has no time zone; give one (UTC)", field="since")
    return value


class Deployments:
    """The deployments of one project's models."""

    def __init__(
        self,
        store: MetadataStore,
        registry: ModelRegistry,
        settings: DeploymentSettings,
        log: PredictionLog | None = None,
    ) -> None:
        self.store = store
        self.registry = registry
        self.settings = settings
        self.log = log

    # -- reading --------------------------------------------------------------------

    def current(self, model: str) -> DeploymentRecord | None:
        """The active deployment of ``model``, or None when only production serves."""
        found = self.store.deployments.active(model)
        return found[0] if found else None

    def active(self) -> list[DeploymentRecord]:
        """Every model's active deployment."""
        return self.store.deployments.active()

    def deployments(self, model: str) -> list[DeploymentRecord]:
        """Every deployment of ``model``, newest first."""
        return self.store.deployments.deployments(model)

    def history(self, model: str) -> list[DeploymentEventRecord]:
        """Every change of ``model``'s deployments, oldest first."""
        return self.store.deployments.history(model)

    # -- comparing and analysing ----------------------------------------------------

    def compare(
        self,
        model: str,
        *,
        since: datetime | str | None = None,
        feedback_since: datetime | str | None = None,
    ) -> Comparison:
        """The candidate and the primary of ``model``'s active deployment (or, with none
        active, its last one) compared on the traffic since ``since`` (default: since
        the deployment began; a time or an age like ``"30m"``).

        Labels count from ``feedback_since`` (default ``since``).  Request and error
        counts are the servers' counters, since the deployment began.
        """
        deployment = self.current(model) or next(iter(self.deployments(model)), None)
        if deployment is None:
            raise NoDeployment(
                f"model '{model}' has never been deployed beside its production version; "
                f"`shipyard deploy {model} VERSION --strategy canary` starts a deployment"
            )
        return self.compare_deployment(
            deployment, since=_moment(since), feedback_since=_moment(feedback_since)
        )

    def compare_deployment(
        self,
        deployment: DeploymentRecord,
        *,
        since: datetime | None = None,
        feedback_since: datetime | None = None,
        counts: Mapping[str, ArmCounts] | None = None,
        baseline: Mapping[str, tuple[int, int]] | None = None,
    ) -> Comparison:
        """Compare ``deployment``'s arms; ``counts`` are its counters as read (default:
        read now), ``baseline`` the counters at the window's start (default: zero)."""
        from shipyard.deployments.comparison import compare_arms, window_counts

        log = self._prediction_log()
        start = max(since, deployment.created_at) if since else deployment.created_at
        labels_start = feedback_since or start
        earliest = min(start, labels_start)
        frame = log.read(model=deployment.model, since=earliest, until=deployment.ended_at)
        labels = log.labels(since=earliest)
        found = self.store.deployments.counts(deployment.id) if counts is None else counts
        return compare_arms(
            deployment,
            frame,
            task=self._task(deployment),
            counts=window_counts(found, baseline),
            labels=labels,
            since=start,
            until=deployment.ended_at,
            feedback_since=labels_start,
        )

    def _prediction_log(self) -> PredictionLog:
        if self.log is None:
            raise DeploymentError(
                "comparing a deployment's arms needs the prediction log: use "
                "project.deployments, or pass log= to Deployments"
            )
        return self.log

    def _task(self, deployment: DeploymentRecord) -> Task:
        record = self.store.models.version(deployment.model, deployment.primary_version)
        return self.registry.load(record).package.task

    # -- starting -------------------------------------------------------------------

    def deploy(
        self,
        model: str,
        version: int | str,
        *,
        strategy: str = "canary",
        percent: float | None = None,
        sticky_key: str | None = None,
        steps: Sequence[float] | None = None,
        interval_seconds: float | None = None,
        max_failures: int | None = None,
        analyze: bool = False,
        expects_change: bool = False,
        force: bool = False,
        reason: str = "",
        actor: str | None = None,
    ) -> DeploymentRecord:
        """Deploy ``version`` of ``model`` beside its production version.

        ``strategy`` is ``shadow`` (the candidate answers a copy of ``percent``% of the
        requests, default all; never returned), ``canary`` (it answers ``percent``% of
        them, default 10; by ``sticky_key`` when the request has it) or ``blue-green``
        (loaded beside production; ``switch`` moves all traffic).  ``sticky_key`` names
        a request header (case-insensitive), else a field of the request's first row,
        whose value picks the arm: one key always meets one arm, and all the rows of a
        request meet the same one (see ``shipyard.serving.catalog.Routing``).  A canary
        is analysed automatically when ``analyze`` is set or ``steps``,
        ``interval_seconds`` or ``max_failures`` is given (the rest from
        ``shipyard.yaml``); ``expects_change`` tells the analysis the candidate is meant
        to answer differently (a retrain on new truth), so agreement with the primary
        does not judge it.  A version that is not blessed is refused unless ``force``,
        which needs a ``reason``.
        """
        if strategy not in STRATEGIES:
            raise DeploymentError(
                f"strategy must be one of {', '.join(STRATEGIES)}, not {strategy!r}"
                + did_you_mean(strategy, STRATEGIES),
                field="strategy",
            )
        record = self._candidate(model, version)
        analysis = self._analysis_plan(
            strategy, steps, interval_seconds, max_failures, analyze=analyze or None
        )
        if analysis is not None and expects_change:
            analysis["expects_change"] = True
        if strategy == "blue-green":
            if percent is not None:
                raise DeploymentError(
                    "a blue-green deployment takes no percent: `switch` moves all traffic",
                    field="percent",
                )
            share = 0.0
        elif analysis is not None:
            if percent is not None:
                raise DeploymentError(
                    "an analysed canary starts at its first step; give steps, not percent",
                    field="percent",
                )
            share = float(analysis["steps"][0])
        else:
            share = _check_percent(_DEFAULT_PERCENT[strategy] if percent is None else percent)
        if sticky_key is not None and (not isinstance(sticky_key, str) or not sticky_key.strip()):
            raise DeploymentError("sticky_key must be a field or header name", field="sticky_key")
        if not record.blessed:
            failed = "; ".join(record.reasons.get("failed", [])) or "not blessed"
            if not force:
                raise DeploymentError(
                    f"version {record.version} of '{model}' is not blessed ({failed}); "
                    "deploy it anyway with force and a reason",
                    field="version",
                )
            if not reason.strip():
                raise DeploymentError(
                    f"forcing version {record.version} of '{model}', which is not blessed, "
                    "needs a reason (it is recorded)",
                    field="reason",
                )
        self._check_loads(record)

        def check(current: DeploymentRecord | None, production: int | None) -> int:
            if production is None:
                raise NoDeployment(
                    f"model '{model}' has no production version to deploy beside; promote "
                    f"one first: shipyard promote {model} VERSION"
                )
            if current is not None:
                raise DeploymentConflict(
                    f"model '{model}' already has a candidate: {current.describe()}, "
                    f"since {current.created_at:%Y-%m-%d %H:%M} UTC; promote it or roll it "
                    "back first"
                )
            if production == record.version:
                raise DeploymentConflict(
                    f"version {record.version} is already the production version of '{model}'",
                    field="version",
                )
            return production

        next_at = None
        if analysis is not None:
            next_at = utcnow() + timedelta(seconds=analysis["interval_seconds"])
        details: dict[str, Any] = {"forced": True} if force and not record.blessed else {}
        return self.store.deployments.create(
            model,
            candidate_version=record.version,
            strategy=strategy,
            percent=share,
            sticky_key=sticky_key,
            analysis=analysis,
            next_analysis_at=next_at,
            actor=actor or current_user(),
            reason=reason or f"deploy {model}:{record.version} as {strategy}",
            details=details,
            check=check,
        )

    def _candidate(self, model: str, version: int | str) -> ModelVersionRecord:
        if isinstance(version, str) and not version.isdigit():
            ref = parse_model_ref(version)
            if ref.name != model:
                raise DeploymentError(
                    f"version {version} belongs to model '{ref.name}', not '{model}'",
                    field="version",
                )
            return self.registry.resolve(ref)
        number = int(version)
        try:
            return self.store.models.version(model, number)
        except ModelNotFound as exc:
            versions = self.store.models.versions(model)  # an unknown model raises here
            known = ", ".join(str(v.version) for v in reversed(versions)) or "none"
            raise DeploymentError(
                f"model '{model}' has no version {number}; its versions: {known}",
                field="version",
            ) from exc

    def _check_loads(self, record: ModelVersionRecord) -> None:
        """Refuse a candidate that does not load or cannot answer a row."""
        try:
            loaded = self.registry.load(record)
            loaded.package.predict_rows([{}])
        except Exception as exc:
            raise DeploymentError(
                f"version {record.version} of '{record.model}' cannot be served: {exc}; "
                "nothing was deployed",
                field="version",
            ) from exc

    def _analysis_plan(
        self,
        strategy: str,
        steps: Sequence[float] | None,
        interval_seconds: float | None,
        max_failures: int | None,
        *,
        analyze: bool | None,
    ) -> dict[str, Any] | None:
        if not analyze and steps is None and interval_seconds is None and max_failures is None:
            return None
        if strategy != "canary":
            raise DeploymentError(
                f"automatic analysis moves a canary step by step; a {strategy} deployment "
                "is promoted or rolled back by hand",
                field="strategy",
            )
        settings = self.settings
        plan_steps = [_check_percent(s, "steps") for s in (steps or settings.steps)]
        if not plan_steps or any(b <= a for a, b in zip(plan_steps, plan_steps[1:], strict=False)):
            raise DeploymentError(
                f"steps must rise, like 5,25,50,100, not {','.join(f'{s:g}' for s in plan_steps)}",
                field="steps",
            )
        interval = settings.interval_seconds if interval_seconds is None else interval_seconds
        if not (math.isfinite(interval) and interval > 0):
            raise DeploymentError(f"interval must be positive, not {interval:g}", field="interval")
        failures = settings.max_failures if max_failures is None else max_failures
        if failures < 1:
            raise DeploymentError(
                f"max_failures must be at least 1, not {failures}", field="max_failures"
            )
        return {
            "steps": plan_steps,
            "interval_seconds": float(interval),
            "max_failures": int(failures),
            "step": 0,
            "failures": 0,
        }

    # -- changing -------------------------------------------------------------------

    def set_percent(
        self,
        model: str,
        percent: float,
        *,
        reason: str = "",
        actor: str | None = None,
        expected_revision: int | None = None,
    ) -> DeploymentRecord:
        """Send ``percent``% of the requests to a canary (or copy them to a shadow)."""
        share = _check_percent(percent)

        def change(_session: Session, row: DeploymentRow) -> tuple[str, dict[str, Any]]:
            if row.strategy == "blue-green":
                raise DeploymentConflict(
                    f"'{model}' is a blue-green deployment: `switch` moves its traffic",
                    field="percent",
                )
            row.percent = share
            return "percent", {}

        return self._change(model, change, reason or f"percent {share:g}", actor, expected_revision)

    def switch(self, model: str, *, reason: str = "", actor: str | None = None) -> DeploymentRecord:
        """Move all of a blue-green deployment's traffic to the other version."""

        def change(_session: Session, row: DeploymentRow) -> tuple[str, dict[str, Any]]:
            if row.strategy != "blue-green":
                raise DeploymentConflict(
                    f"'{model}' is a {row.strategy} deployment; switch moves blue-green ones"
                )
            row.live = "candidate" if row.live == "primary" else "primary"
            return "switch", {}

        return self._change(model, change, reason or "switch", actor, None)

    def promote(
        self,
        model: str,
        *,
        reason: str = "",
        actor: str | None = None,
        expected_revision: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> DeploymentRecord:
        """Make the candidate the production version; the deployment ends."""
        who = actor or current_user()
        why = reason or "promote the candidate"

        def change(session: Session, row: DeploymentRow) -> tuple[str, dict[str, Any]]:
            self.store.deployments.move_production(
                session, row, row.candidate_version, actor=who, reason=why
            )
            row.status, row.live, row.ended_at = "promoted", "candidate", utcnow()
            row.lease_owner = row.lease_until = None
            return "promote", dict(details or {})

        return self._change(model, change, why, who, expected_revision)

    def rollback(
        self,
        model: str,
        *,
        reason: str = "",
        actor: str | None = None,
        expected_revision: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> DeploymentRecord:
        """Go back: end the active deployment with all traffic on the primary, or, with
        none active, move production back from the last promoted candidate."""
        who = actor or current_user()
        why = reason or "roll back"
        current = self.current(model)
        if current is not None:

            def end(_session: Session, row: DeploymentRow) -> tuple[str, dict[str, Any]]:
                row.status, row.live, row.ended_at = "rolled_back", "primary", utcnow()
                row.lease_owner = row.lease_until = None
                return "rollback", dict(details or {})

            return self._change(model, end, why, who, expected_revision)
        last = next(iter(self.deployments(model)), None)
        production = self.registry.find(model, "production")
        if (
            last is None
            or last.status != "promoted"
            or production is None
            or production.version != last.candidate_version
        ):
            raise NoDeployment(
                f"model '{model}' has nothing to roll back: no active deployment, and its "
                "production version was not set by the last promotion"
            )

        def undo(session: Session, row: DeploymentRow) -> tuple[str, dict[str, Any]]:
            self.store.deployments.move_production(
                session, row, row.primary_version, actor=who, reason=why
            )
            row.status, row.live = "rolled_back", "primary"
            return "rollback", {"undid": "promote", **(details or {})}

        return self.store.deployments.change(
            model, last.id, undo, actor=who, reason=why, expected_revision=expected_revision
        )

    def _change(
        self,
        model: str,
        change: Any,
        reason: str,
        actor: str | None,
        expected_revision: int | None,
    ) -> DeploymentRecord:
        return self.store.deployments.change(
            model,
            None,
            change,
            actor=actor or current_user(),
            reason=reason,
            expected_revision=expected_revision,
        )
