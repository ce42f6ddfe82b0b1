"""``shipyard init`` and ``shipyard quickstart``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shipyard.cli.console import console
from shipyard.config import CONFIG_FILE, Task
from shipyard.project import Project


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to make a project of.")] = Path("."),
    data: Annotated[
        Path | None, typer.Option(help="CSV or Parquet file (or folder) to learn from.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="The column to predict.")] = None,
    task: Annotated[
        Task | None, typer.Option(help="regression or classification (default: inferred).")
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="The model's name (default: the data file's name).")
    ] = None,
) -> None:
    """Create shipyard.yaml and .shipyard/ in FOLDER; with --data, a standard pipeline."""
    if data is None and (target is not None or task is not None):
        raise typer.BadParameter(
            "describes the data; give --data too",
            param_hint="--target" if target is not None else "--task",
        )
    if data is not None and target is None:
        raise typer.BadParameter(
            "needs --target, the column the model predicts", param_hint="--data"
        )
    with Project.init(folder, data=data, target=target, task=task, model_name=name) as project:
        console.print(
            f"[green]created[/] project [bold]{project.config.name}[/] in {project.root} "
            f"({CONFIG_FILE}, .shipyard/)"
        )
        settings = project.config.data
        if settings is not None:
            console.print(
                f"model [bold]{project.config.model_name}[/] predicts '{settings.target}' "
                f"({settings.task}) from {settings.source}; edit {CONFIG_FILE} to change "
                "features, model or gates, then: shipyard run"
            )


def quickstart(
    folder: Annotated[
        Path, typer.Argument(help="Folder for the demo project (created if missing).")
    ] = Path("shipyard-quickstart"),
) -> None:
    """Make a project from the bundled Ames house prices and turn the loop once."""
    from shipyard.cli.pipelines import run_standard
    from shipyard.quickstart import create_quickstart, serve_examples

    with create_quickstart(folder) as project:
        console.print(
            f"[bold]shipyard quickstart[/] in {project.root}: predict Sale_Price of "
            "2,930 houses in Ames, Iowa"
        )
        run_standard(project, cache=None)
        console.print("\n[bold]serving[/]: started the server, sent 5 houses of the eval split")
        served = serve_examples(project)
    table = Table(
        title=f"answers of {project.config.model_name}:{served[0].version}", title_justify="left"
    )
    for column in ("prediction id", "predicted price", "actual price", "feedback sent"):
        table.add_column(column, justify="left" if column == "prediction id" else "right")
    for index, example in enumerate(served):
        table.add_row(
            example.prediction_id,
            f"{example.predicted:,.0f}",
            f"{example.actual:,.0f}",
            "yes" if index < 3 else "-",
        )
    console.print(table)
    console.print(
        "server stopped. Next: [bold]cd "
        f"{folder}[/] and try `shipyard serve`, `shipyard predictions`, `shipyard models show "
        f"{project.config.model_name}`, `shipyard lineage {served[0].prediction_id}`"
    )


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(quickstart)
