"""``shipyard serve`` and ``shipyard predict``."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from shipyard.cli.console import console
from shipyard.project import Project


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    alias: Annotated[str, typer.Option(help="The alias whose versions are served.")] = "production",
    reload_seconds: Annotated[
        float, typer.Option(help="How often to look for moved aliases.")
    ] = 2.0,
) -> None:
    """Serve the project's models over HTTP (simple JSON and Open Inference Protocol v2)."""
    import uvicorn

    from shipyard.serving.app import (
        ALIAS_VARIABLE,
        RELOAD_VARIABLE,
        ROOT_VARIABLE,
        ServerSettings,
        create_app,
    )

    with Project.open() as project:
        root = project.root
    console.print(
        f"shipyard serving [bold]{root.name}[/] ({alias}) on http://{host}:{port} — "
        f"POST /predict, /v2/models/{{name}}/infer; docs at /docs; Ctrl-C stops"
    )
    if workers == 1:
        settings = ServerSettings(root, alias=alias, reload_seconds=reload_seconds)
        uvicorn.run(
            create_app(settings), host=host, port=port, access_log=False, log_level="warning"
        )
        return
    os.environ[ROOT_VARIABLE] = str(root)
    os.environ[ALIAS_VARIABLE] = alias
    os.environ[RELOAD_VARIABLE] = str(reload_seconds)
    with tempfile.TemporaryDirectory(prefix="shipyard-metrics-") as metrics:
        # Every worker writes its metrics here; /metrics adds them up.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics
        uvicorn.run(
            "shipyard.serving.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            log_level="warning",
        )


def predict(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS or NAME:VERSION")],
    input_file: Annotated[Path, typer.Option("--input", help="CSV or Parquet rows to predict.")],
    output_file: Annotated[
        Path, typer.Option("--output", help="Where to write: .parquet or .csv.")
    ],
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows per chunk.")] = 50_000,
) -> None:
    """Predict a file of any size in chunks, through the model's own transform."""
    from shipyard.serving.batch import predict_file

    with Project.open() as project:
        loaded = project.registry.load(model)
    columns = [TextColumn("predicting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn()]
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("rows", total=None)

        def advance(done: int, total: int | None) -> None:
            progress.update(task, completed=done, total=total)

        rows = predict_file(
            loaded, input_file, output_file, chunk_rows=chunk_rows, progress=advance
        )
    console.print(
        f"[green]wrote[/] {rows:,} predictions of {loaded.name}:{loaded.version} to {output_file}"
    )


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(predict)
