"""``shipyard deploy``, ``switch``, ``rollback``, ``promote MODEL`` and ``deployments``.

Each command is one call on ``project.deployments``; running servers follow the store.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, get_args

import typer
from rich.console import Group
from rich.markup import escape
from rich.table import Table
from typer.core import TyperGroup

from shipyard.choices import Strategy
from shipyard.cli import analysis
from shipyard.cli.console import console, when
from shipyard.cli.project import open_project
from shipyard.cli.usage import parsed_by

if TYPE_CHECKING:
    from shipyard.store.records import DeploymentEventRecord, DeploymentRecord

STRATEGIES = get_args(Strategy)


class Format(StrEnum):
    table = "table"
    json = "json"


def _seconds(text: str) -> float:
    # Imported here: the prediction log's modules load pandas, which other commands skip.
    from shipyard.prediction_log import parse_duration

    return parse_duration(text)


def _steps(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise typer.BadParameter(f"'{text}' is not a list of percents like 5,25,50,100") from None


class _ModelOrCommand(TyperGroup):
    """``shipyard deployments ames`` reads as ``shipyard deployments status ames``."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer.Context
        if args and not args[0].startswith("-") and args[0] not in self.commands:
            args = ["status", *args]
        return super().parse_args(ctx, args)


deployments_app = typer.Typer(
    cls=_ModelOrCommand,
    help="Deployments: what serves each model, their history, and their arms compared.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _changed(record: DeploymentRecord, verb: str) -> None:
    console.print(f"[green]{verb}[/] {escape(record.model)}: {escape(record.describe())}")


def deploy(
    model: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[
        str | None, typer.Argument(help="Version to deploy; left out: move the canary.")
    ] = None,
    strategy: Annotated[
        str, typer.Option(help=f"How the candidate serves: {', '.join(STRATEGIES)}.")
    ] = "canary",
    percent: Annotated[
        float | None,
        typer.Option(
            help="Share of requests the canary answers (default 10) or the shadow "
            "copies (default 100)."
        ),
    ] = None,  # fmt: skip
    sticky_key: Annotated[
        str | None,
        typer.Option(help="A header or row field: requests with one value meet one arm."),
    ] = None,
    steps: Annotated[
        str | None, typer.Option(help="Analysed canary: percents to pass, e.g. 5,25,50,100.")
    ] = None,
    interval: Annotated[
        str | None,
        typer.Option(
            help="Analysed canary: time between checks (60s, 5m).",
            callback=parsed_by(_seconds),
        ),
    ] = None,  # fmt: skip
    max_failures: Annotated[
        int | None, typer.Option(help="Analysed canary: failed checks that roll back.")
    ] = None,
    analyze: Annotated[
        bool, typer.Option("--analyze", help="Analysed canary with shipyard.yaml's plan.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Deploy a version that is not blessed.")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Deploy VERSION of MODEL beside production (shadow, canary or blue-green), or move
    a canary: shipyard deploy MODEL --percent 50."""
    with open_project() as project:
        if version is None:
            if percent is None:
                raise typer.BadParameter("give a VERSION to deploy, or --percent to move a canary")
            _changed(project.deployments.set_percent(model, percent, reason=reason), "moved")
            return
        record = project.deployments.deploy(
            model,
            version,
            strategy=strategy,
            percent=percent,
            sticky_key=sticky_key,
            steps=None if steps is None else _steps(steps),
            interval_seconds=None if interval is None else _seconds(interval),
            max_failures=max_failures,
            analyze=analyze,
            force=force,
            reason=reason,
        )
    _changed(record, "deployed")
    if record.analysis is not None:
        console.print(
            f"the analysis checks it every {record.analysis['interval_seconds']:g} s: "
            "run `shipyard deployments analyze --watch`"
        )


def switch(
    model: Annotated[str, typer.Argument(help="Model name.")],
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Move all of a blue-green deployment's traffic to its other version."""
    with open_project() as project:
        _changed(project.deployments.switch(model, reason=reason), "switched")


def rollback(
    model: Annotated[str, typer.Argument(help="Model name.")],
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Go back: end the deployment with all traffic on production, or undo the last
    promotion of a candidate."""
    with open_project() as project:
        project.deployments.rollback(model, reason=reason)
        production = project.registry.resolve(f"{model}@production").version
    console.print(
        f"[green]rolled back[/] {escape(model)}: version {production} serves all requests"
    )


def promote(
    name: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[
        int | None, typer.Argument(help="Version to point the alias at; left out: the candidate.")
    ] = None,
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "production",
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Make the deployed candidate production, or point an alias at a version; recorded."""
    with open_project() as project:
        if version is None:
            if alias != "production":
                raise typer.BadParameter("promoting the candidate moves production; give VERSION")
            record = project.deployments.promote(name, reason=reason)
            console.print(
                f"[green]promoted[/] {escape(name)}: version {record.candidate_version} is "
                f"production (was {record.primary_version})"
            )
            return
        event = project.registry.promote(name, version, alias=alias, reason=reason or "promoted")
    if event is None:
        console.print(f"{name}@{alias} already points at version {version}")
    else:
        before = "nothing" if event.from_version is None else f"version {event.from_version}"
        console.print(f"[green]moved[/] {name}@{alias} from {before} to version {version}")


def _state(record: DeploymentRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "model": record.model,
        **record.state(),
        "analysis": record.analysis,
        "created_at": record.created_at.isoformat(),
        "ended_at": None if record.ended_at is None else record.ended_at.isoformat(),
    }


def _change(event: DeploymentEventRecord) -> str:
    before, after = event.before or {}, event.after or {}
    changed = [
        f"{key} {before.get(key)} → {after.get(key)}"
        for key in ("percent", "live", "status")
        if before and before.get(key) != after.get(key)
    ]
    if changed or before:
        return ", ".join(changed)
    return f"v{after.get('candidate')} beside v{after.get('primary')} as {after.get('strategy')}"


def _history_table(events: list[DeploymentEventRecord]) -> Table:
    table = Table(title="history", title_justify="left")
    for column in ("when", "deployment", "action", "change", "who", "why"):
        table.add_column(column)
    for event in events:
        table.add_row(
            when(event.created_at),
            str(event.deployment_id),
            event.action,
            escape(_change(event)),
            escape(event.actor),
            escape(event.reason),
        )
    return table


@deployments_app.callback()
def deployments(ctx: typer.Context) -> None:
    """Active deployments; `shipyard deployments MODEL` shows one model's state and history."""
    if ctx.invoked_subcommand is not None:
        return
    with open_project() as project:
        active = project.deployments.active()
    if not active:
        console.print("no active deployments: every model serves its production version")
        return
    table = Table(title="active deployments", title_justify="left")
    for column in ("model", "deployment", "since", "analysis"):
        table.add_column(column)
    for record in active:
        table.add_row(
            escape(record.model), escape(record.describe()), when(record.created_at),
            _analysis(record),
        )  # fmt: skip
    console.print(table)


def _analysis(record: DeploymentRecord) -> str:
    plan = record.analysis
    if plan is None:
        return "-"
    steps = ",".join(f"{step:g}" for step in plan["steps"])
    return (
        f"step {plan['step'] + 1} of {steps}, {plan['failures']}/{plan['max_failures']} "
        f"failures, every {plan['interval_seconds']:g} s"
    )


@deployments_app.command()
def status(
    model: Annotated[str, typer.Argument(help="Model name.")],
    output_format: Annotated[
        Format, typer.Option("--format", help="table or json.")
    ] = Format.table,
) -> None:
    """One model's deployment now and every change before."""
    with open_project() as project:
        current = project.deployments.current(model)
        history = project.deployments.history(model)
        production = project.registry.find(model, "production")
    if output_format is Format.json:
        console.print_json(
            data={
                "model": model,
                "production": None if production is None else production.version,
                "deployment": None if current is None else _state(current),
                "history": [
                    {
                        "deployment": event.deployment_id,
                        "action": event.action,
                        "actor": event.actor,
                        "reason": event.reason,
                        "before": event.before,
                        "after": event.after,
                        "details": event.details,
                        "at": event.created_at.isoformat(),
                    }
                    for event in history
                ],
            }  # fmt: skip
        )
        return
    serving = "nothing" if production is None else f"version {production.version}"
    lines = [f"[bold]{escape(model)}[/]: production is {serving}"]
    if current is None:
        lines.append("no active deployment")
    else:
        lines.append(f"deployment {current.id}: {escape(current.describe())}")
        if current.sticky_key:
            lines.append(f"sticky by {escape(current.sticky_key)}")
        if current.analysis is not None:
            lines.append(f"analysis: {_analysis(current)}")
    console.print(Group(*lines, _history_table(history)))


def register(app: typer.Typer) -> None:
    app.command()(deploy)
    app.command()(switch)
    app.command()(rollback)
    app.command()(promote)
    analysis.register(deployments_app)
    app.add_typer(deployments_app, name="deployments")
