"""``shipyard models`` and ``shipyard models show``."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Group
from rich.table import Table

from shipyard.cli.console import console, when
from shipyard.cli.project import open_project
from shipyard.cli.usage import parsed_by
from shipyard.registry.references import parse_model_ref

if TYPE_CHECKING:
    from shipyard.project import Project
    from shipyard.store.records import ModelVersionRecord

models_app = typer.Typer(
    help="Registered models, their versions, aliases and history.",
    invoke_without_command=True,
    no_args_is_help=False,
)


def _metrics(record: ModelVersionRecord, limit: int = 4) -> str:
    return ", ".join(f"{k}={v:.4g}" for k, v in list(record.metrics.items())[:limit])


@models_app.callback()
def models(ctx: typer.Context) -> None:
    """List registered models (and: shipyard models show NAME[@ALIAS|:VERSION])."""
    if ctx.invoked_subcommand is not None:
        return
    with open_project() as project:
        table = Table(title="models", title_justify="left")
        for column in ("name", "latest version", "aliases", "created"):
            table.add_column(column)
        for model in project.models():
            aliases = ", ".join(f"{a} → {v}" for a, v in model.aliases.items()) or "-"
            table.add_row(
                model.name, str(model.latest_version or "-"), aliases, when(model.created_at)
            )
        console.print(table)


def _automation(metrics: dict[str, float]) -> str | None:
    """What the version's answers' confidence means and what ``partial`` would decide."""
    lines = []
    if "calibration_error_after" in metrics:
        lines.append(
            f"calibration error {metrics['calibration_error_before']:.4f} → "
            f"{metrics['calibration_error_after']:.4f} (before → after calibration)"
        )
    elif "interval_coverage" in metrics:
        lines.append(
            f"intervals hold {metrics['interval_coverage']:.1%} of eval values, "
            f"mean width {metrics['mean_interval_width']:.4g}"
        )
    else:
        return None
    share = metrics.get("expected_auto_share", 0.0)
    threshold = metrics.get("auto_threshold")
    if threshold is None:
        why = (
            "no confidence threshold reaches automation.target_precision"
            if "calibration_error_after" in metrics
            else "no interval is as narrow as automation.max_interval_width, or it is unset"
        )
        lines.append(f"at 'partial' every answer goes to review: {why}")
    elif "expected_auto_precision" in metrics:
        lines.append(
            f"at 'partial': confidence ≥ {threshold:.4f} decides {share:.1%} of answers "
            f"at precision {metrics['expected_auto_precision']:.1%}"
        )
    else:
        coverage = metrics.get("expected_auto_coverage", float("nan"))
        lines.append(
            f"at 'partial': intervals ≤ {threshold:.4g} wide decide {share:.1%} of answers, "
            f"{coverage:.1%} of them covered"
        )
    return "\n".join(lines)


def _version_detail(project: Project, record: ModelVersionRecord) -> Group:
    grid = Table.grid(padding=(0, 2))
    grid.add_row("model", f"[bold]{record.model}:{record.version}[/]")
    grid.add_row("aliases", ", ".join(record.aliases) or "none")
    grid.add_row("created", when(record.created_at))
    grid.add_row("blessed", "yes" if record.blessed else "[red]no[/]")
    grid.add_row("infra-validated", "yes" if record.infra_validated else "[red]no[/]")
    grid.add_row("package", f"{record.package.ref} sha256:{record.package.digest[:16]}")
    grid.add_row("pipeline run", "-" if record.run_id is None else str(record.run_id))
    if record.dataset_version_id is not None:
        dataset = project.dataset_version(record.dataset_version_id)
        grid.add_row(
            "dataset version",
            f"{dataset.id}: {dataset.name} sha256:{dataset.digest[:12]} ({dataset.rows:,} rows, "
            f"{dataset.source})",
        )
    grid.add_row("code version", record.code_version or "-")
    # Imported here: the modeling package loads scikit-learn, which the other commands skip.
    from shipyard.modeling.confidence import CONFIDENCE_METRICS

    quality = {k: v for k, v in record.metrics.items() if k not in CONFIDENCE_METRICS}
    grid.add_row("metrics", json.dumps(quality, indent=None))
    automation = _automation(record.metrics)
    grid.add_row("automation", automation or "no confidence model: every answer is unsure")
    failed = record.reasons.get("failed", [])
    grid.add_row("gate", "passed" if not failed else "\n".join(f"✗ {r}" for r in failed))
    if record.tags:
        grid.add_row("tags", json.dumps(record.tags))
    return Group(grid)


def _model_detail(project: Project, name: str) -> Group:
    versions = project.registry.versions(name)
    table = Table(title=f"versions of {name}", title_justify="left")
    for column in ("version", "created", "blessed", "infra", "aliases", "run", "metrics"):
        table.add_column(column)
    for record in versions:
        table.add_row(
            str(record.version),
            when(record.created_at),
            "yes" if record.blessed else "[red]no[/]",
            "yes" if record.infra_validated else "[red]no[/]",
            ", ".join(record.aliases) or "-",
            str(record.run_id or "-"),
            _metrics(record),
        )
    history = Table(title="alias history", title_justify="left")
    for column in ("when", "alias", "from", "to", "who", "why"):
        history.add_column(column)
    for event in project.registry.history(name):
        history.add_row(
            when(event.created_at),
            event.alias,
            str(event.from_version or "-"),
            str(event.to_version or "-"),
            event.actor,
            event.reason,
        )
    return Group(table, history)


@models_app.command()
def show(
    ref: Annotated[
        str,
        typer.Argument(
            help="NAME, NAME@ALIAS or NAME:VERSION", callback=parsed_by(parse_model_ref)
        ),
    ],
) -> None:
    """Show a model's versions and alias history, or one version in full."""
    with open_project() as project:
        if "@" in ref or ":" in ref:
            console.print(_version_detail(project, project.registry.resolve(ref)))
        else:
            console.print(_model_detail(project, ref))


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
