"""``shipyard init``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli.console import console
from shipyard.config import CONFIG_FILE
from shipyard.project import Project


def init(
    folder: Annotated[Path, typer.Argument(help="Folder to make a project of.")] = Path("."),
    name: Annotated[str | None, typer.Option(help="Project name (default: folder name).")] = None,
) -> None:
    """Create shipyard.yaml and .shipyard/ in FOLDER."""
    with Project.init(folder, name=name) as project:
        console.print(
            f"[green]created[/] project [bold]{project.config.name}[/] in {project.root} "
            f"({CONFIG_FILE}, .shipyard/)"
        )


def register(app: typer.Typer) -> None:
    app.command()(init)
