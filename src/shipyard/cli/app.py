"""The Typer application and its error handling."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from typer.core import TyperGroup

from shipyard import __version__
from shipyard.cli import (
    automation,
    dashboard,
    datasets,
    deploy_config,
    deployments,
    loop,
    monitoring,
    pipelines,
    predictions,
    projects,
    registry,
    review,
    serving,
)
from shipyard.cli.console import console, errors
from shipyard.errors import ShipyardError
from shipyard.lifetime import freeze_survivors


class _ShipyardGroup(TyperGroup):
    """Turns every ``ShipyardError`` into one red line and exit code 1."""

    def invoke(self, ctx: Any) -> Any:  # typer.Context; its click base is private
        try:
            return super().invoke(ctx)
        except ShipyardError as exc:
            errors.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            raise typer.Exit(1) from None


app = typer.Typer(
    cls=_ShipyardGroup,
    help="shipyard: take machine-learning models to production and keep them healthy.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _print_version(asked: bool) -> None:
    if asked:
        console.print(f"shipyard {__version__}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print shipyard's version and exit.",
            callback=_print_version,
            is_eager=True,
        ),
    ] = False,
) -> None:
    """The options of ``shipyard`` itself, given before a command."""


projects.register(app)
pipelines.register(app)
datasets.register(app)
registry.register(app)
predictions.register(app)
serving.register(app)
deployments.register(app)
review.register(app)
automation.register(app)
monitoring.register(app)
loop.register(app)
dashboard.register(app)
deploy_config.register(app)


def main() -> None:
    try:
        app()
    finally:
        # What is still alive now lives until the process ends (see shipyard.lifetime).
        freeze_survivors()
