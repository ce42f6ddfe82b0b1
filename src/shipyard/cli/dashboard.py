"""``shipyard ui``: the web dashboard."""

from __future__ import annotations

from typing import Annotated

import typer

from shipyard.cli.console import console
from shipyard.cli.project import open_project


def ui(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Open the web dashboard: runs and their DAGs, lineage, the registry, deployments,
    monitoring and the review queue, over the same API as these commands.

    Options left out come from shipyard.yaml's ui section (or SHIPYARD_UI_*).
    """
    from shipyard.ui import serve_ui

    with open_project() as project:
        root = project.root
        settings = project.config.ui.with_changes(host=host, port=port)
        protected = project.config.serve.token is not None
    console.print(
        f"shipyard dashboard of [bold]{root.name}[/] on http://{settings.host}:{settings.port}"
        + (" (sign in with the API token)" if protected else "")
        + "; Ctrl-C stops"
    )
    serve_ui(root, host=settings.host, port=settings.port)


def register(app: typer.Typer) -> None:
    app.command()(ui)
