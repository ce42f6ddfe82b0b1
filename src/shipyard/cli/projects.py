"""``shipyard init`` and ``shipyard quickstart``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from shipyard.choices import Task
from shipyard.cli.console import console


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
    estimator: Annotated[
        str | None,
        typer.Option(
            help="hist-gradient-boosting (default), random-forest, linear, lightgbm, xgboost, "
            "or a dotted class with the scikit-learn API."
        ),
    ] = None,
) -> None:
    """Create shipyard.yaml and .shipyard/ in FOLDER; with --data, a standard pipeline."""
    if data is None and (target is not None or task is not None or estimator is not None):
        hint = "--target" if target is not None else "--task" if task is not None else "--estimator"
        raise typer.BadParameter("describes the data; give --data too", param_hint=hint)
    if data is not None and target is None:
        raise typer.BadParameter(
            "needs --target, the column the model predicts", param_hint="--data"
        )
    # Imported here, not above: the settings' pydantic models would slow every command's
    # start, --help included.
    from shipyard.config import CONFIG_FILE
    from shipyard.project import Project

    with Project.init(
        folder, data=data, target=target, task=task, model_name=name, estimator=estimator
    ) as project:
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
    from shipyard.quickstart import TRAINED_UNTIL, create_quickstart, turn_the_loop

    with create_quickstart(folder) as project:
        model = project.config.model_name
        console.print(
            f"[bold]shipyard quickstart[/] in {project.root}: predict Sale_Price of houses in "
            f"Ames, Iowa, learning from those sold up to {TRAINED_UNTIL}"
        )
        run_standard(project, cache=None)
        console.print("\n[bold]the loop[/]: the houses sold afterwards meet the model")
        turned = turn_the_loop(project, say=lambda line: console.print(f"  {escape(line)}"))
    first, last = turned.first_version, turned.production_version
    if last != first:
        console.print(
            f"\n[green]{model}:{last} is production[/], retrained without a person; on the "
            f"houses sold in 2010 its RMSE is {turned.rmse[last]:,.0f} against "
            f"{turned.rmse[first]:,.0f} for {model}:{first}"
        )
    else:
        console.print(
            f"\n{model}:{first} is still production (RMSE {turned.rmse[first]:,.0f} on the "
            "houses sold in 2010): the loop's story above says why"
        )
    console.print(
        f"server stopped. Next: [bold]cd {folder}[/] and [bold]shipyard ui[/] to see it all in "
        f"a browser, or try `shipyard loop history {model}`, `shipyard report {model} --output "
        f"report.html`, `shipyard alerts --all`, `shipyard lineage {turned.prediction_id}`, "
        "`shipyard serve`"
    )


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(quickstart)
