"""What a standard run found, stage by stage, for a person to read."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table

from shipyard.cli.console import console
from shipyard.components.summary import StandardSummary
from shipyard.data.statistics import DatasetStatistics


def _statistics_table(statistics: DatasetStatistics) -> Table:
    table = Table(title="statistics (training split)", title_justify="left")
    for heading in ("column", "type", "missing", "distinct", "min", "mean", "max / top value"):
        table.add_column(heading, justify="left" if heading in ("column", "type") else "right")
    ordered = sorted(statistics.columns.values(), key=lambda c: -c.missing_fraction)
    for column in ordered[:12]:
        if column.numeric is not None:
            cells = ["" if v is None else f"{v:.4g}" for v in (column.min, column.mean, column.max)]
        else:
            top = column.categorical.top(1) if column.categorical is not None else []
            cells = ["", "", f"{top[0][0]} ({top[0][1]})" if top else ""]
        table.add_row(
            column.name,
            column.type,
            f"{column.missing_fraction:.1%}",
            f"{column.distinct_count:,.0f}",
            *cells,
        )
    if len(ordered) > 12:
        table.caption = f"the 12 columns with most missing values of {len(ordered)}"
    return table


def print_summary(summary: StandardSummary) -> None:
    """Print each stage's findings: data, statistics, anomalies, tuning, metrics, blessing,
    push."""
    dataset = summary.dataset
    if dataset is not None:
        console.print(
            f"\n[bold]data[/] {dataset.dataset}: {dataset.rows:,} rows × "
            f"{dataset.columns} columns from {dataset.source} "
            f"(version sha256:{dataset.source_digest[:12]}; train {dataset.train_rows:,}, "
            f"eval {dataset.eval_rows:,})"
        )
    if dataset is not None and dataset.feedback_digest is not None:
        counts = ", ".join(f"{k} {v:,}" for k, v in sorted(dataset.feedback_sources.items()))
        console.print(
            f"[bold]feedback[/] {dataset.feedback_rows:,} labelled predictions joined the "
            f"training split ({escape(counts)}) as {dataset.feedback_dataset} version "
            f"sha256:{dataset.feedback_digest[:12]}"
        )
    if summary.statistics is not None:
        console.print(_statistics_table(summary.statistics))
    if summary.validated:
        if summary.anomalies:
            console.print(f"[bold]validation[/]: {len(summary.anomalies)} warning(s)")
            for anomaly in summary.anomalies[:15]:
                console.print(f"  [yellow]warning[/] {escape(anomaly.message)}")
        else:
            console.print("[bold]validation[/]: no anomalies")
        drifted = [d for d in summary.drift if d.drifted]
        unjudged = [d for d in summary.drift if d.status == "not enough data"]
        if summary.drift:
            console.print(
                f"[bold]drift[/] against the previous dataset version: {len(drifted)} of "
                f"{len(summary.drift)} columns over their threshold"
                + (f", {len(unjudged)} with too few values to judge" if unjudged else "")
            )
    if summary.tuning is not None:
        tuning = summary.tuning
        states = [trial.state for trial in tuning.trials]
        chosen = ", ".join(
            f"{key}={value:.4g}" if isinstance(value, float) else f"{key}={value}"
            for key, value in tuning.best_params.items()
        )
        console.print(
            f"[bold]tuning[/]: {len(states)} trials ({states.count('pruned')} pruned, "
            f"{states.count('failed')} failed"
            + (", stopped by the timeout" if tuning.timed_out else "")
            + f") — best cross-validated {tuning.metric} {tuning.best_score or 0.0:.5g} "
            f"(trial {tuning.best_trial}): {escape(chosen)}"
        )
    if summary.metrics:
        table = Table(title="evaluation (eval split)", title_justify="left")
        table.add_column("metric")
        table.add_column("new model", justify="right")
        if summary.baseline_metrics is not None:
            table.add_column("production", justify="right")
        for metric, value in summary.metrics.items():
            row = [metric, f"{value:.5g}"]
            if summary.baseline_metrics is not None:
                baseline = summary.baseline_metrics.get(metric)
                row.append("-" if baseline is None else f"{baseline:.5g}")
            table.add_row(*row)
        console.print(table)
    if summary.blessing is not None:
        verdict = "[green]blessed[/]" if summary.blessing.blessed else "[red]not blessed[/]"
        console.print(f"[bold]blessing[/]: {verdict}")
        for check in summary.blessing.checks:
            mark = "[green]✓[/]" if check.passed else "[red]✗[/]"
            console.print(f"  {mark} {check.message}")
    if summary.infra is not None:
        infra = summary.infra
        report = infra.report
        if report.loaded and report.load_seconds is not None:
            console.print(
                f"[bold]infra validation[/]: loaded in {report.load_seconds:.2f} s in a fresh "
                f"process; single-row latency p50 {report.p50_ms or 0.0:.2f} ms, p99 "
                f"{report.p99_ms or 0.0:.2f} ms — {'passed' if infra.passed else 'failed'}"
            )
        for reason in infra.reasons:
            console.print(f"  [red]✗[/] {reason}")
    version = summary.version
    decision = summary.decision
    if version is not None and decision is not None:
        if decision.push and decision.alias not in version.aliases:
            console.print(
                f"[bold]registry[/]: {version.model}:{version.version} was registered before; "
                f"{decision.alias} stays on the newer version it has moved to since"
            )
        elif decision.push:
            console.print(
                f"[bold]registry[/]: [green]{version.model}:{version.version}[/] is "
                f"{decision.alias} (aliases: {', '.join(version.aliases) or 'none'})"
            )
        else:
            console.print(
                f"[bold]registry[/]: {version.model}:{version.version} registered as a "
                f"[yellow]candidate[/]; {decision.alias} did not move because:"
            )
            for reason in decision.reasons:
                console.print(f"  [red]✗[/] {reason}")
