"""The automatic canary analysis: one pass at a time, safe to kill and to run twice.

A pass looks at every active analysed canary whose ``next_analysis_at`` has come, takes
its lease in the store (so that two analysers never act on one deployment at once),
compares the arms over the current *window* and runs the checks of ``shipyard.yaml``:

- **pass** (every check passed): the canary moves to its next step, or is promoted
  after the last one;
- **fail** (a check failed): one more failure, and a fresh window; at ``max_failures``
  failures (counted over the whole rollout) the deployment is rolled back;
- **wait** (a check lacks data and none failed): nothing moves; the window grows.

The window starts when the step starts or a check fails, so each verdict rests on
traffic the last one has not judged; feedback is the exception — labels come late, so
the feedback check reads every label since the deployment began.  The step, failures,
window and next check time live in the deployment's ``analysis`` in the store, and each
decision is one transaction that checks the deployment's revision and records an event
with the checks (name, value, bound, verdict): a process killed at any point leaves a
state the next one carries on from, and a decision is made once.

>>> decisions = project.canary_analysis().run_once()  # doctest: +SKIP
>>> project.canary_analysis().watch(stop=event, on_decision=print)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy.orm import Session

from shipyard.config import AnalysisChecks
from shipyard.deployments.comparison import Comparison
from shipyard.errors import DeploymentConflict, DeploymentError, NoDeployment, ShipyardError
from shipyard.store.records import DeploymentRecord
from shipyard.store.tables import DeploymentRow, utcnow

if TYPE_CHECKING:
    from shipyard.deployments.control import Deployments

__all__ = ["ANALYST", "AnalysisDecision", "CanaryAnalysis", "CheckResult", "run_checks"]

#: The actor the analysis's changes are recorded under.
ANALYST = "canary-analysis"

CheckStatus = Literal["pass", "fail", "wait", "skip"]
Outcome = Literal["advance", "promote", "failed", "rollback", "wait", "busy", "changed", "error"]


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: ``pass``, ``fail``, ``wait`` (not enough data yet; holds the
    canary where it is) or ``skip`` (cannot judge and need not: feedback before enough
    labels)."""

    name: str
    status: CheckStatus
    value: float | None
    bound: float | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class AnalysisDecision:
    """What one pass decided for one deployment, and why."""

    model: str
    deployment_id: int
    outcome: Outcome
    step: int
    """The step the canary is at after the decision (0 is the first)."""
    percent: float
    failures: int
    checks: tuple[CheckResult, ...]
    reason: str

    def to_dict(self) -> dict[str, Any]:
        found = asdict(self)
        found["checks"] = [check.to_dict() for check in self.checks]
        return found


def run_checks(comparison: Comparison, checks: AnalysisChecks) -> list[CheckResult]:
    """The checks of ``checks`` on ``comparison``, in a fixed order."""
    return [
        _error_rate(comparison, checks),
        _latency(comparison, checks),
        _agreement(comparison, checks),
        _output_drift(comparison, checks),
        _feedback(comparison, checks),
    ]


def _expected_change(result: CheckResult) -> CheckResult:
    """A candidate meant to answer differently (a retrain on new truth) is not judged on
    agreeing with the primary: its errors, latency and feedback judge it."""
    if result.name not in ("agreement", "output_drift"):
        return result
    return CheckResult(
        result.name,
        "skip",
        result.value,
        result.bound,
        "not judged: the candidate was retrained to answer differently; errors, latency "
        "and feedback judge it",
    )


def _error_rate(comparison: Comparison, checks: AnalysisChecks) -> CheckResult:
    candidate = comparison.candidate
    bound = checks.max_error_rate
    if candidate.all_requests < checks.min_requests:
        return CheckResult(
            "error_rate",
            "wait",
            None,
            bound,
            f"the candidate has served {candidate.all_requests} of the "
            f"{checks.min_requests} requests needed",
        )
    rate = candidate.error_rate or 0.0
    failed = candidate.errors + candidate.shadow_errors
    return CheckResult(
        "error_rate",
        "fail" if rate > bound else "pass",
        rate,
        bound,
        f"{failed} of the candidate's {candidate.all_requests} requests failed "
        f"({rate:.2%}; bound {bound:.2%})",
    )


def _latency(comparison: Comparison, checks: AnalysisChecks) -> CheckResult:
    """The candidate's p99 against the primary's, both over answers returned to callers
    (a shadow's latency is its model call alone, not comparable)."""
    primary, candidate = comparison.primary, comparison.candidate
    bound = checks.max_p99_ratio
    mine_count = candidate.answers - candidate.shadow_answers
    theirs_count = primary.answers - primary.shadow_answers
    if mine_count < checks.min_requests or candidate.latency_p99_ms is None:
        return CheckResult(
            "p99_latency",
            "wait",
            None,
            bound,
            f"latency needs {checks.min_requests} answers returned by the candidate; it "
            f"has {mine_count}",
        )
    mine = candidate.latency_p99_ms
    limit = checks.max_p99_ms
    over = limit is not None and mine > limit
    over_text = f"; over the {limit:g} ms limit" if over else ""
    if theirs_count < checks.min_requests or primary.latency_p99_ms is None:
        # At 100% the primary answers no caller: its ratio was judged at earlier steps.
        return CheckResult(
            "p99_latency",
            "fail" if over else "skip",
            None,
            bound,
            f"candidate p99 {mine:.1f} ms; the primary returned {theirs_count} answers, too "
            f"few to compare with{over_text}",
        )
    theirs = primary.latency_p99_ms
    ratio = mine / theirs if theirs > 0 else math.inf
    too_slow = over or (ratio > bound and mine - theirs > checks.p99_slack_ms)
    return CheckResult(
        "p99_latency",
        "fail" if too_slow else "pass",
        ratio,
        bound,
        f"candidate p99 {mine:.1f} ms, primary {theirs:.1f} ms: {ratio:.2f}x "
        f"(bound {bound:g}x, or within {checks.p99_slack_ms:g} ms){over_text}",
    )


def _agreement(comparison: Comparison, checks: AnalysisChecks) -> CheckResult:
    agreement = comparison.agreement
    classification = comparison.task == "classification"
    bound = checks.min_agreement if classification else checks.max_relative_difference
    if agreement.pairs == 0 and min(comparison.primary.answers, comparison.candidate.answers) >= (
        checks.min_requests
    ):
        return CheckResult(
            "agreement",
            "skip",
            None,
            bound,
            "no request was answered by both arms (the primary does not shadow the canary)",
        )
    if agreement.pairs < checks.min_requests:
        return CheckResult(
            "agreement",
            "wait",
            None,
            bound,
            f"{agreement.pairs} of the {checks.min_requests} requests answered by both arms",
        )
    if classification:
        share = agreement.share_same or 0.0
        return CheckResult(
            "agreement",
            "fail" if share < bound else "pass",
            share,
            bound,
            f"both arms gave the same class on {share:.1%} of {agreement.pairs} requests "
            f"(bound at least {bound:.0%})",
        )
    difference = agreement.mean_relative_difference
    if difference is None:
        return CheckResult(
            "agreement", "skip", None, bound, "the primary's answers are all zero or missing"
        )
    return CheckResult(
        "agreement",
        "fail" if difference > bound else "pass",
        difference,
        bound,
        f"answers differ by {difference:.1%} of the primary's mean on {agreement.pairs} "
        f"requests (mean absolute {agreement.mean_absolute_difference:.4g}; "
        f"bound {bound:.0%})",
    )


def _output_drift(comparison: Comparison, checks: AnalysisChecks) -> CheckResult:
    bound = checks.max_output_drift
    if comparison.output_basis == "pairs":
        have = comparison.agreement.pairs
    else:
        have = min(comparison.primary.answers, comparison.candidate.answers)
    if comparison.output_distance is None or have < checks.min_requests:
        return CheckResult(
            "output_drift",
            "wait",
            None,
            bound,
            f"output drift needs {checks.min_requests} answers per arm; it has {have}",
        )
    distance, excess = comparison.output_distance, comparison.output_excess
    assert excess is not None
    on = "the same requests" if comparison.output_basis == "pairs" else "all their answers"
    return CheckResult(
        "output_drift",
        "fail" if excess > bound else "pass",
        excess,
        bound,
        f"Jensen-Shannon distance {distance:.3f} between the arms' outputs on {on}, "
        f"{excess:.3f} beyond the {comparison.output_noise:.3f} of sampling alone "
        f"(bound {bound:g})",
    )


def _feedback(comparison: Comparison, checks: AnalysisChecks) -> CheckResult:
    """The candidate's feedback metric against the primary's: on the labelled requests
    both answered when there are enough (the same rows for both, so the rows' luck
    cancels), else on each arm's own labelled answers.

    It fails only when the candidate is worse beyond the bound *and* surely worse: its
    loss (squared error, or wrong classes) is higher at ``feedback_confidence``, by a
    one-sided z-test.  On 50 labels two equally good models often differ by 20% in RMSE.
    """
    primary, candidate = comparison.primary, comparison.candidate
    paired = comparison.paired_feedback
    bound = checks.max_metric_worsening
    metric = "accuracy" if comparison.task == "classification" else "rmse"
    if paired.labelled >= checks.min_labels:
        mine, theirs = paired.candidate[metric], paired.primary[metric]
        on = f"on the {paired.labelled} labelled requests both answered"
        difference, error = paired.loss_difference or 0.0, paired.loss_difference_se or 0.0
    elif min(primary.labelled, candidate.labelled) >= checks.min_labels:
        mine, theirs = candidate.metrics[metric], primary.metrics[metric]
        on = f"on {candidate.labelled} labels against {primary.labelled} for the primary"
        difference = (candidate.loss_mean or 0.0) - (primary.loss_mean or 0.0)
        error = math.sqrt(
            (candidate.loss_sd or 0.0) ** 2 / candidate.labelled
            + (primary.loss_sd or 0.0) ** 2 / primary.labelled
        )
    else:
        return CheckResult(
            "feedback",
            "skip",
            None,
            bound,
            f"feedback needs {checks.min_labels} labels per arm; the primary has "
            f"{primary.labelled}, the candidate {candidate.labelled}",
        )
    worse = theirs - mine if metric == "accuracy" else mine - theirs
    worsening = worse / abs(theirs) if theirs else (0.0 if worse <= 0 else math.inf)
    z = difference / error if error > 0 else math.inf if difference > 0 else 0.0
    needed = NormalDist().inv_cdf(checks.feedback_confidence)
    detail = (
        f"candidate {metric} {mine:.4g}, primary {theirs:.4g} {on}: "
        f"{max(worsening, 0.0):.1%} worse (bound {bound:.0%})"
    )
    if worsening > bound and z <= needed:
        detail += f", within chance (z {z:.2f} <= {needed:.2f})"
    failed = worsening > bound and z > needed
    return CheckResult("feedback", "fail" if failed else "pass", worsening, bound, detail)


def _verdict(results: list[CheckResult]) -> CheckStatus:
    statuses = {result.status for result in results}
    if "fail" in statuses:
        return "fail"
    return "wait" if "wait" in statuses else "pass"


def _summary(results: list[CheckResult], statuses: set[str]) -> str:
    return "; ".join(
        f"{result.name}: {result.detail}" for result in results if result.status in statuses
    )


class CanaryAnalysis:
    """Runs passes of the canary analysis over a project's deployments.

    ``owner`` names this analyser in the leases (default: host, process and a random
    tag); ``lease_seconds`` bounds how long a killed analyser keeps others off a
    deployment.
    """

    def __init__(
        self,
        deployments: Deployments,
        *,
        owner: str | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
        if not (math.isfinite(lease_seconds) and lease_seconds > 0):
            raise DeploymentError(
                f"the lease must last a positive time, not {lease_seconds:g} s", field="lease"
            )
        self.deployments = deployments
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease_seconds = lease_seconds
        self._retry_at: dict[int, datetime] = {}

    @property
    def checks(self) -> AnalysisChecks:
        return self.deployments.settings.checks

    def _analysed(self, model: str | None) -> list[DeploymentRecord]:
        active = (
            self.deployments.active()
            if model is None
            else [found for found in [self.deployments.current(model)] if found]
        )
        return [record for record in active if record.analysis is not None]

    def run_once(self, model: str | None = None) -> list[AnalysisDecision]:
        """One pass: decide for every analysed canary (of ``model``) that is due; each
        passes a step, is promoted, fails a check, is rolled back or waits for data, and
        every decision is recorded with its checks."""
        decisions = []
        for record in self._analysed(model):
            if self._due(record) > utcnow():
                continue
            decision = self.analyze(record)
            if decision is not None:
                decisions.append(decision)
        return decisions

    def watch(
        self,
        model: str | None = None,
        *,
        stop: threading.Event | None = None,
        poll_seconds: float = 2.0,
        on_decision: Callable[[AnalysisDecision], None] | None = None,
    ) -> None:
        """Run passes until ``stop`` is set, sleeping until the next check is due (at
        most ``poll_seconds``, so that new deployments are noticed)."""
        if not (math.isfinite(poll_seconds) and poll_seconds > 0):
            raise DeploymentError(
                f"the poll interval must be positive, not {poll_seconds:g} s", field="poll"
            )
        stop = stop or threading.Event()
        while not stop.is_set():
            for decision in self.run_once(model):
                if on_decision is not None:
                    on_decision(decision)
            stop.wait(self._pause(model, poll_seconds))

    def _pause(self, model: str | None, poll_seconds: float) -> float:
        now = utcnow()
        pause = poll_seconds
        for record in self._analysed(model):
            due = self._due(record)
            if record.lease_until is not None and record.lease_owner != self.owner:
                due = max(due, record.lease_until)
            pause = min(pause, (due - now).total_seconds())
        return max(pause, 0.05)

    def _due(self, record: DeploymentRecord) -> datetime:
        due = record.next_analysis_at or record.created_at
        retry = self._retry_at.get(record.id)
        return due if retry is None else max(due, retry)

    def analyze(self, record: DeploymentRecord) -> AnalysisDecision | None:
        """Decide for one deployment now, under its lease; None when it is no longer
        an active analysed canary or not yet due."""
        store = self.deployments.store.deployments
        if not store.take_lease(record.id, self.owner, self.lease_seconds):
            return self._decision(record, "busy", [], "another analyser holds its lease")
        try:
            fresh = store.get(record.id)
            now = utcnow()
            if fresh is None or not fresh.active or fresh.analysis is None:
                return None
            if fresh.next_analysis_at is not None and fresh.next_analysis_at > now:
                return None
            try:
                return self._decide(fresh)
            except DeploymentConflict as exc:
                return self._decision(fresh, "changed", [], str(exc))
            except NoDeployment:
                return None
            except ShipyardError as exc:
                # Nothing is stored (the store may be what failed): retry after an
                # interval rather than at once, again and again.
                interval = float(fresh.analysis["interval_seconds"])
                self._retry_at[fresh.id] = utcnow() + timedelta(seconds=interval)
                return self._decision(fresh, "error", [], str(exc))
        finally:
            store.release_lease(record.id, self.owner)

    def _decide(self, record: DeploymentRecord) -> AnalysisDecision:
        assert record.analysis is not None
        plan = record.analysis
        steps: list[float] = [float(s) for s in plan["steps"]]
        step, failures = int(plan["step"]), int(plan["failures"])
        window_start = (
            datetime.fromisoformat(plan["window_start"])
            if plan.get("window_start")
            else record.created_at
        )
        baseline = {arm: (int(r), int(e)) for arm, (r, e) in plan.get("window_counts", {}).items()}
        counts = self.deployments.store.deployments.counts(record.id)
        comparison = self.deployments.compare_deployment(
            record,
            since=window_start,
            feedback_since=record.created_at,
            counts=counts,
            baseline=baseline,
        )
        results = run_checks(comparison, self.checks)
        if plan.get("expects_change"):
            results = [_expected_change(result) for result in results]
        verdict = _verdict(results)
        now = utcnow()
        details = {
            "checks": [result.to_dict() for result in results],
            "window_start": window_start.isoformat(),
            "step": step,
            "failures": failures,
            "analyser": self.owner,
        }
        fresh_window = {
            "window_start": now.isoformat(),
            "window_counts": {arm: [c.requests, c.errors] for arm, c in counts.items()},
        }
        at = f"{record.percent:g}%"
        if verdict == "pass" and step + 1 >= len(steps):
            reason = f"analysis: every check passed at {at}, the last step; promote"
            self.deployments.promote(
                record.model,
                reason=reason,
                actor=ANALYST,
                expected_revision=record.revision,
                details={**details, "outcome": "promote"},
            )
            return self._decision(record, "promote", results, reason, step=step)
        if verdict == "pass":
            share = steps[step + 1]
            reason = f"analysis: every check passed at {at}; next step {share:g}%"
            state = {**plan, **fresh_window, "step": step + 1}
            self._record(record, "advance", reason, state, details, now, percent=share)
            return self._decision(record, "advance", results, reason, step=step + 1, percent=share)
        if verdict == "fail":
            failures += 1
            failed = _summary(results, {"fail"})
            limit = int(plan["max_failures"])
            if failures >= limit:
                reason = f"analysis: failure {failures} of {limit} at {at}, roll back: {failed}"
                self.deployments.rollback(
                    record.model,
                    reason=reason,
                    actor=ANALYST,
                    expected_revision=record.revision,
                    details={**details, "outcome": "rollback", "failures": failures},
                )
                return self._decision(
                    record, "rollback", results, reason, step=step, failures=failures
                )
            reason = f"analysis: failure {failures} of {limit} at {at}: {failed}"
            state = {**plan, **fresh_window, "failures": failures}
            details["failures"] = failures
            self._record(record, "failed", reason, state, details, now)
            return self._decision(record, "failed", results, reason, failures=failures)
        reason = f"analysis: waiting for data at {at}: {_summary(results, {'wait'})}"
        self._record(record, "wait", reason, dict(plan), details, now)
        return self._decision(record, "wait", results, reason)

    def _record(
        self,
        record: DeploymentRecord,
        outcome: str,
        reason: str,
        state: Mapping[str, Any],
        details: dict[str, Any],
        now: datetime,
        *,
        percent: float | None = None,
    ) -> DeploymentRecord:
        """Store the new analysis state and the next check time, with the event."""
        interval = float(state["interval_seconds"])

        def change(_session: Session, row: DeploymentRow) -> tuple[str, dict[str, Any]]:
            if percent is not None:
                row.percent = percent
            row.analysis = dict(state)
            row.next_analysis_at = now + timedelta(seconds=interval)
            return outcome, {**details, "outcome": outcome}

        return self.deployments.store.deployments.change(
            record.model,
            record.id,
            change,
            actor=ANALYST,
            reason=reason,
            expected_revision=record.revision,
        )

    def _decision(
        self,
        record: DeploymentRecord,
        outcome: Outcome,
        results: list[CheckResult],
        reason: str,
        *,
        step: int | None = None,
        percent: float | None = None,
        failures: int | None = None,
    ) -> AnalysisDecision:
        plan = record.analysis or {}
        return AnalysisDecision(
            model=record.model,
            deployment_id=record.id,
            outcome=outcome,
            step=int(plan.get("step", 0)) if step is None else step,
            percent=record.percent if percent is None else percent,
            failures=int(plan.get("failures", 0)) if failures is None else failures,
            checks=tuple(results),
            reason=reason,
        )
