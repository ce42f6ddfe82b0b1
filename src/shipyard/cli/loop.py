"""``shipyard loop history MODEL`` and ``shipyard approve MODEL``: the retraining loop's
record, and the one step a person may be asked for."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from shipyard.cli.console import console
from shipyard.cli.project import open_project
from shipyard.cli.review import AsFormat, Format

loop_app = typer.Typer(
    help="The retraining loop: each retrain, from its trigger to promotion or rollback.",
    no_args_is_help=True,
)

_STYLE = {
    "promoted": "green",
    "rolled_back": "red",
    "rejected": "yellow",
    "failed": "red",
    "approved": "cyan",
}


@loop_app.command()
def history(
    model: Annotated[str, typer.Argument(help="Model name.")],
    output: AsFormat = Format.table,
) -> None:
    """Every step of the model's retrains, oldest first, with its reason."""
    with open_project() as project:
        events = project.loop.history(model)
        if output is Format.json:
            print(json.dumps([event.to_dict() for event in events], indent=2))
            return
        if not events:
            enabled = project.config.loop.enabled
            console.print(
                f"'{escape(model)}' has not retrained"
                + ("" if enabled else " (loop.enabled is off in shipyard.yaml)")
            )
            return
        table = Table()
        for heading in ("retrain", "at", "step", "reason"):
            table.add_column(heading)
        for event in events:
            style = _STYLE.get(event.step, "")
            step = f"[{style}]{event.step}[/]" if style else event.step
            table.add_row(
                str(event.loop_run_id),
                f"{event.at:%Y-%m-%d %H:%M:%S}",
                step,
                escape(event.reason),
            )
        console.print(table)


def approve(
    model: Annotated[str, typer.Argument(help="Model name.")],
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Let a retrained version that passed its gate go on to its canary."""
    from shipyard.registry import current_user

    with open_project() as project:
        retrain = project.loop.approve(model, actor=current_user(), reason=reason)
    console.print(
        f"[green]approved[/] retrain {retrain.id} of {escape(model)}: version "
        f"{retrain.version} goes out as a canary at the next `shipyard monitor` pass"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(loop_app, name="loop")
    app.command()(approve)
