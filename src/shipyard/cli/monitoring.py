"""``shipyard monitor``, ``shipyard alerts`` and ``shipyard report``: calls on
``project.monitor`` printed for people (or as JSON)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from shipyard.cli.console import console
from shipyard.cli.project import open_project
from shipyard.cli.review import AsFormat, Format

if TYPE_CHECKING:
    from shipyard.monitoring import MonitorPass
    from shipyard.project import Project

_SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}


def monitor(
    model: Annotated[str | None, typer.Argument(help="Model name (default: every model).")] = None,
    watch: Annotated[
        bool, typer.Option("--watch", help="Pass again every monitoring.interval_seconds.")
    ] = False,
    passes: Annotated[
        int | None, typer.Option(help="With --watch: stop after this many passes.", min=1)
    ] = None,
    output: AsFormat = Format.table,
) -> None:
    """One pass over the windows that are due: drift, skew, performance, alerts."""
    with open_project() as project:

        def show(result: MonitorPass) -> None:
            if output is Format.json:
                print(json.dumps(result.to_dict(), indent=2, default=str), flush=True)
            else:
                _print_pass(result)

        if not watch:
            show(_pass_with_progress(project, model))
            return
        project.watch(model, passes=passes, on_pass=show)


def _pass_with_progress(project: Project, model: str | None) -> MonitorPass:
    """One pass, with a bar per model while its windows are computed."""
    from rich.progress import Progress

    with Progress(console=console, transient=True) as bars:
        reading = bars.add_task("monitoring: reading the prediction log", total=None)
        tasks: dict[str, Any] = {}

        def advance(name: str, done: int, due: int) -> None:
            bars.update(reading, visible=False)
            if name not in tasks:
                tasks[name] = bars.add_task(f"{escape(name)}: windows", total=due)
            bars.update(tasks[name], completed=done, total=due)

        return project.monitor_pass(model, progress=advance)


def _print_pass(result: MonitorPass) -> None:
    from shipyard.monitoring import window_dict

    windows = [window_dict(w, result.alerts) for w in result.windows]
    if not windows:
        console.print("no window is due: every closed window has been computed")
    else:
        table = Table(title="windows computed", title_justify="left")
        for heading in ("model", "window end", "count", "drifted features", "output", "realised"):
            table.add_column(heading)
        table.add_column("estimated")
        for window in windows:
            table.add_row(
                f"{escape(window['model'])}:{window['version']}",
                window["end"][:19].replace("T", " "),
                f"{window['count']:,}",
                _drifted(window),
                _output(window),
                _realised(window),
                _estimated(window),
            )
        console.print(table)
    for refreshed in (w for m in result.models for w in m.refreshed):
        console.print(
            f"labels arrived for {escape(refreshed.model)}:{refreshed.version}'s window ending "
            f"{refreshed.end:%Y-%m-%d %H:%M}: {_realised(window_dict(refreshed))}"
        )
    for model in result.models:
        for alert in model.opened:
            style = _SEVERITY_STYLE.get(alert.severity, "")
            console.print(
                f"[{style}]alert opened[/] [{alert.severity}] {escape(alert.model)}:"
                f"{alert.version} {escape(alert.rule)}: {escape(alert.message)}"
            )
        for alert in model.resolved:
            console.print(
                f"[green]alert resolved[/] {escape(alert.model)}:{alert.version} "
                f"{escape(alert.rule)}: {escape(alert.resolution or '')}"
            )
        if model.skipped:
            console.print(f"{escape(model.model)}: skipped, {escape(model.skipped)}")
        for problem in model.problems:
            console.print(f"[yellow]{escape(model.model)}[/]: {escape(problem)}")
    for event in result.loop:
        console.print(
            f"[bold]loop[/] {escape(event.model)} retrain {event.loop_run_id}: "
            f"[bold]{event.step}[/] — {escape(event.reason)}"
        )
    if result.deliveries is not None:
        sent = result.deliveries
        if sent.sent:
            console.print(f"webhook: {len(sent.sent)} alert change(s) delivered")
        if sent.error:
            console.print(
                f"[yellow]webhook: {escape(sent.error)}; owed deliveries are retried next pass[/]"
            )


def _drifted(window: dict[str, Any]) -> str:
    features = window.get("features") or {}
    judged = [f for f in features.values() if f["status"] != "not enough data"]
    if not judged:
        return "not enough data"
    names = window.get("drifted") or []
    if not names:
        return f"none of {len(judged)}"
    shown = ", ".join(f"{escape(n)} {features[n]['score']:.2f}" for n in names[:3])
    more = f" +{len(names) - 3}" if len(names) > 3 else ""
    return f"[yellow]{len(names)} of {len(judged)}[/]: {shown}{more}"


def _output(window: dict[str, Any]) -> str:
    output = window.get("output")
    if output is None:
        return "-"
    if output["score"] is None:
        return "not enough data"
    text = f"{output['score']:.3f}"
    return f"[yellow]{text} drifted[/]" if output["drifted"] else text


def _realised(window: dict[str, Any]) -> str:
    found = window.get("performance")
    if not found:
        return "no labels yet"
    name = next(iter(found))
    metric = found[name]
    return (
        f"{name} {metric['value']:.3f} [{metric['lower']:.3f}, {metric['upper']:.3f}] "
        f"({metric['count']} labels)"
    )


def _estimated(window: dict[str, Any]) -> str:
    found = window.get("estimated")
    if not found:
        return "-"
    return ", ".join(f"{name} {value:.3f}" for name, value in found.items())


def alerts(
    model: Annotated[str | None, typer.Argument(help="Model name (default: every model).")] = None,
    every: Annotated[bool, typer.Option("--all", help="Resolved alerts too.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many.", min=1)] = 100,
    output: AsFormat = Format.table,
) -> None:
    """Open alerts (with --all, resolved ones too), newest first."""
    with open_project() as project:
        found = project.store.monitoring.alerts(
            model=model, status=None if every else "open", limit=limit
        )
        if output is Format.json:
            print(json.dumps([alert.to_dict() for alert in found], indent=2))
            return
        if not found:
            console.print("no open alert" if not every else "no alert")
            return
        table = Table()
        for heading in ("id", "status", "severity", "model", "rule", "opened", "message"):
            table.add_column(heading)
        for alert in found:
            style = _SEVERITY_STYLE.get(alert.severity, "")
            table.add_row(
                str(alert.id),
                alert.status,
                f"[{style}]{alert.severity}[/]",
                f"{escape(alert.model)}:{alert.version}",
                escape(alert.rule),
                f"{alert.opened_at:%Y-%m-%d %H:%M}",
                escape(alert.message),
            )
        console.print(table)


def report(
    model: Annotated[str, typer.Argument(help="Model name.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML file to write.")],
    since: Annotated[
        str, typer.Option(help="Windows ending after this age or time (7d, 2026-05-01).")
    ] = "30d",
) -> None:
    """Write one self-contained HTML report of a model's monitoring (works offline)."""
    with open_project() as project:
        path = project.monitor.write_report(model, output, since=since)
        console.print(f"report written to {path}")


def register(app: typer.Typer) -> None:
    app.command()(monitor)
    app.command()(alerts)
    app.command()(report)
