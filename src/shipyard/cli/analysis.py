"""``shipyard deployments show`` (the arms compared) and ``shipyard deployments analyze``
(the canary analysis, one pass or ``--watch``).

Both are calls on ``project.deployments``: ``compare`` and ``analyze``/``watch``.
"""

from __future__ import annotations

import json
import signal
import threading
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table

from shipyard.cli.console import console, when
from shipyard.cli.project import open_project
from shipyard.cli.usage import parsed_by

if TYPE_CHECKING:
    from shipyard.deployments.analysis import AnalysisDecision, CheckResult
    from shipyard.deployments.comparison import ArmSummary, Comparison


class Format(StrEnum):
    table = "table"
    json = "json"


def _since(text: str) -> object:
    from shipyard.prediction_log import parse_since

    return parse_since(text)


def _seconds(text: str) -> float:
    from shipyard.prediction_log import parse_duration

    return parse_duration(text)


def _number(value: float | None, unit: str = "", digits: str = ".4g") -> str:
    return "-" if value is None else f"{value:{digits}}{unit}"


def _arm_rows(comparison: Comparison) -> list[tuple[str, str, str]]:
    primary, candidate = comparison.primary, comparison.candidate

    def both(read: Any) -> tuple[str, str]:
        return read(primary), read(candidate)

    def rate(arm: ArmSummary) -> str:
        return "-" if arm.error_rate is None else f"{arm.error_rate:.2%}"

    rows = [
        ("requests answered", *both(lambda a: f"{a.requests:,}")),
        ("requests in shadow", *both(lambda a: f"{a.shadow_requests:,}")),
        ("failed", *both(lambda a: f"{a.errors + a.shadow_errors:,}")),
        ("error rate", *both(rate)),
        ("answers in the log", *both(lambda a: f"{a.answers:,}")),
        ("latency p50", *both(lambda a: _number(a.latency_p50_ms, " ms", ".1f"))),
        ("latency p99", *both(lambda a: _number(a.latency_p99_ms, " ms", ".1f"))),
        ("shadow call p50", *both(lambda a: _number(a.shadow_latency_p50_ms, " ms", ".1f"))),
        ("shadow call p99", *both(lambda a: _number(a.shadow_latency_p99_ms, " ms", ".1f"))),
        ("labelled answers", *both(lambda a: f"{a.labelled:,}")),
    ]
    names = ("accuracy", "f1") if comparison.task == "classification" else ("rmse", "mae")
    for name in names:
        rows.append((name, *both(lambda a, n=name: _number(a.metrics.get(n)))))
    return rows


def _comparison_lines(comparison: Comparison) -> list[str]:
    agreement = comparison.agreement
    lines = []
    if agreement.pairs == 0:
        lines.append("agreement: no request was answered by both arms")
    elif agreement.share_same is not None:
        lines.append(
            f"agreement: the same class on {agreement.share_same:.1%} of the "
            f"{agreement.pairs:,} requests both answered"
        )
    else:
        relative = agreement.mean_relative_difference
        lines.append(
            f"agreement: mean |difference| {_number(agreement.mean_absolute_difference)}"
            + ("" if relative is None else f" ({relative:.1%} of the primary's mean)")
            + f" on the {agreement.pairs:,} requests both answered"
        )
    if comparison.output_distance is not None:
        on = "the same requests" if comparison.output_basis == "pairs" else "all answers"
        lines.append(
            f"output distance: Jensen-Shannon {comparison.output_distance:.3f} on {on}, "
            f"{_number(comparison.output_excess, digits='.3f')} beyond sampling noise"
        )
    paired = comparison.paired_feedback
    if paired.labelled:
        metric = "accuracy" if comparison.task == "classification" else "rmse"
        lines.append(
            f"on the {paired.labelled:,} labelled requests both answered: {metric} "
            f"{paired.primary[metric]:.4g} (primary) vs {paired.candidate[metric]:.4g} "
            "(candidate)"
        )
    return lines


def _checks_table(checks: list[CheckResult] | tuple[CheckResult, ...], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("check", "verdict", "value", "bound", "detail"):
        table.add_column(column)
    styles = {"pass": "green", "fail": "bold red", "wait": "yellow", "skip": "dim"}
    for check in checks:
        table.add_row(
            check.name,
            f"[{styles[check.status]}]{check.status}[/]",
            _number(check.value),
            _number(check.bound),
            escape(check.detail),
        )
    return table


def show(
    model: Annotated[str, typer.Argument(help="Model name.")],
    since: Annotated[
        str | None,
        typer.Option(
            help="Compare from this time or age (30m, 2h); default: the whole deployment.",
            callback=parsed_by(_since),
        ),
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="table or json.")
    ] = Format.table,
) -> None:
    """The candidate and the primary compared on the same traffic: requests, errors,
    latency, agreement, output distance and, once labels arrive, quality."""
    from shipyard.deployments.analysis import CheckResult

    with open_project() as project:
        comparison = project.deployments.compare(model, since=since)
        history = project.deployments.history(model)
    last = next(
        (
            event
            for event in reversed(history)
            if event.deployment_id == comparison.deployment.id and "checks" in event.details
        ),
        None,
    )
    if output_format is Format.json:
        payload = comparison.to_dict()
        payload["last_analysis"] = (
            None
            if last is None
            else {
                "action": last.action,
                "reason": last.reason,
                "at": last.created_at.isoformat(),
                "checks": last.details["checks"],
            }
        )
        console.print_json(data=payload)
        return
    deployment = comparison.deployment
    table = Table(
        title=f"{escape(model)}: {escape(deployment.describe())} ({deployment.status}), "
        f"since {when(comparison.since)}",
        title_justify="left",
    )
    table.add_column("")
    table.add_column(f"primary v{comparison.primary.version}", justify="right")
    table.add_column(f"candidate v{comparison.candidate.version}", justify="right")
    for row in _arm_rows(comparison):
        table.add_row(*row)
    parts: list[Any] = [table, *_comparison_lines(comparison)]
    if last is not None:
        checks = [CheckResult(**check) for check in last.details["checks"]]
        parts.append(
            _checks_table(checks, f"last analysis, {when(last.created_at)}: {last.action}")
        )
    console.print(Group(*parts))


def _print_decision(decision: AnalysisDecision, output_format: Format) -> None:
    if output_format is Format.json:
        console.print(json.dumps(decision.to_dict()), soft_wrap=True, markup=False)
    else:
        styles = {"advance": "green", "promote": "bold green", "failed": "yellow"}
        style = styles.get(decision.outcome, "bold red" if decision.outcome == "rollback" else "")
        outcome = f"[{style}]{decision.outcome}[/]" if style else decision.outcome
        console.print(
            f"{escape(decision.model)} (deployment {decision.deployment_id}): {outcome} at "
            f"{decision.percent:g}%, {decision.failures} failures — {escape(decision.reason)}",
            soft_wrap=True,
        )
    console.file.flush()


def analyze(
    model: Annotated[
        str | None, typer.Argument(help="Model name; left out: every analysed canary.")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Keep going: check each canary when it is due.")
    ] = False,
    poll: Annotated[
        str,
        typer.Option(
            help="With --watch: look for new deployments this often.",
            callback=parsed_by(_seconds),
        ),
    ] = "2s",
    lease: Annotated[
        str,
        typer.Option(
            help="How long a killed analyser keeps others off a deployment.",
            callback=parsed_by(_seconds),
        ),
    ] = "30s",
    output_format: Annotated[
        Format, typer.Option("--format", help="table, or json: one object per decision.")
    ] = Format.table,
) -> None:
    """Run the canary analysis: every analysed canary that is due passes a step, is
    promoted, fails a check, is rolled back or waits for data; each decision is recorded
    with its checks.  Safe to kill and restart; several analysers share the work."""
    with open_project() as project:
        if model is not None:
            project.deployments.current(model)  # an unknown model is an error
        analysis = project.canary_analysis(lease_seconds=_seconds(lease))
        if not watch:
            decisions = analysis.run_once(model)
            if not decisions and output_format is Format.table:
                console.print("no analysed canary is due")
            for decision in decisions:
                _print_decision(decision, output_format)
                if output_format is Format.table and decision.checks:
                    console.print(_checks_table(decision.checks, "checks"))
            return
        stop = threading.Event()
        previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            analysis.watch(
                model,
                stop=stop,
                poll_seconds=_seconds(poll),
                on_decision=lambda decision: _print_decision(decision, output_format),
            )
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous)


def register(app: typer.Typer) -> None:
    """Add ``show`` and ``analyze`` to ``shipyard deployments``."""
    app.command()(show)
    app.command()(analyze)
