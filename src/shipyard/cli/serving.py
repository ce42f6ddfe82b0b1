"""``shipyard serve`` and ``shipyard predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shipyard.cli.console import console
from shipyard.cli.project import open_project


def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Worker processes.")] = None,
    alias: Annotated[str | None, typer.Option(help="The alias whose versions are served.")] = None,
    reload_seconds: Annotated[
        float | None, typer.Option(help="How often to look for moved aliases.")
    ] = None,
) -> None:
    """Serve the project's models over HTTP (simple JSON and Open Inference Protocol v2).

    Options left out come from shipyard.yaml's serve section (or SHIPYARD_SERVE_*).
    """
    from shipyard.serving.app import serve as serve_project

    with open_project() as project:
        root = project.root
        settings = project.config.serve.with_changes(
            host=host, port=port, workers=workers, alias=alias, reload_seconds=reload_seconds
        )
    console.print(
        f"shipyard serving [bold]{root.name}[/] ({settings.alias}) on "
        f"http://{settings.host}:{settings.port} — POST /predict, /v2/models/{{name}}/infer; "
        "docs at /docs; Ctrl-C stops"
    )
    serve_project(root, settings)


def predict(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION")],
    input_file: Annotated[Path, typer.Option("--input", help="CSV or Parquet rows to predict.")],
    output_file: Annotated[
        Path, typer.Option("--output", help="Where to write: .parquet or .csv.")
    ],
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 50_000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Predict on a local Dask cluster of this many processes, a partition per "
            "task (--input may be a folder); --output becomes a folder of Parquet parts.",
        ),
    ] = None,
) -> None:
    """Predict a file of any size in chunks, through the model's own transform."""
    from shipyard.data.partitions import DEFAULT_PARTITION_ROWS
    from shipyard.serving.batch import predict_file, predict_on_cluster

    with open_project() as project:
        loaded = project.registry.load(model)
        data = project.config.data
    columns = [TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("rows", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        if workers is None:
            rows = predict_file(
                loaded, input_file, output_file, chunk_rows=chunk_rows, progress=advance
            )
        else:
            rows = predict_on_cluster(
                loaded,
                input_file,
                output_file,
                workers=workers,
                partition_rows=DEFAULT_PARTITION_ROWS if data is None else data.partition_rows,
                progress=advance,
            )
    console.print(
        f"[green]wrote[/] {rows:,} predictions of {loaded.name}:{loaded.version} to {output_file}"
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(predict)
