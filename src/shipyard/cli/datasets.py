"""``shipyard datasets``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shipyard.cli.console import console, when
from shipyard.cli.project import open_project


def datasets(
    name: Annotated[str | None, typer.Argument(help="Only versions of this dataset.")] = None,
) -> None:
    """List dataset versions: content hash, rows, columns, source and first run."""
    with open_project() as project:
        table = Table(title="dataset versions", title_justify="left")
        for column in (
            "id",
            "dataset",
            "version",
            "rows",
            "columns",
            "source",
            "first run",
            "added",
        ):
            table.add_column(
                column, justify="right" if column in ("id", "rows", "columns") else "left"
            )
        for record in project.dataset_versions(name):
            table.add_row(
                str(record.id),
                record.name,
                f"sha256:{record.digest[:12]}",
                f"{record.rows:,}",
                str(record.columns),
                record.source,
                str(record.run_id or "-"),
                when(record.created_at),
            )
        console.print(table)


def register(app: typer.Typer) -> None:
    app.command()(datasets)
