"""``shipyard predictions``: the newest logged predictions as a table, CSV or JSON."""

from __future__ import annotations

import csv
import sys
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

import orjson
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from shipyard.cli.console import console, when
from shipyard.cli.project import open_project
from shipyard.errors import InvalidRequest

_JSON = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _json_text(value: Any) -> str:
    return orjson.dumps(value, option=_JSON).decode()


def _scalar_text(value: Any) -> str:
    return value if isinstance(value, str) else _json_text(value)


def _csv_text(value: Any, *, json: bool) -> Any:
    """A CSV cell: JSON columns as JSON text unless a plain string, times in ISO form."""
    if value is None:
        return ""
    if json:
        return _scalar_text(value)
    if isinstance(value, datetime):
        return _json_text(value).strip('"')
    return value


def _table(rows: list[dict[str, Any]], *, limit: int | None) -> Table:
    table = Table(title="predictions, newest first", title_justify="left")
    table.add_column("time", no_wrap=True)
    table.add_column("prediction id", no_wrap=True)
    table.add_column("model", no_wrap=True)
    table.add_column("variant", no_wrap=True)
    table.add_column("prediction", max_width=24, overflow="ellipsis", no_wrap=True)
    table.add_column("latency", justify="right", no_wrap=True)
    # The only column that may shrink on a narrow terminal; each cell stays one line.
    table.add_column("inputs", max_width=60)
    for row in rows:
        prediction = _scalar_text(row["prediction"])
        if row["probabilities"]:
            prediction += f" ({max(row['probabilities'].values()):.2f})"
        table.add_row(
            when(row["timestamp"]),
            escape(row["prediction_id"]),
            escape(f"{row['model']}:{row['version']}"),
            escape(row["variant"]),
            escape(prediction),
            f"{row['latency_ms']:.1f} ms",
            Text(_json_text(row["inputs"]), no_wrap=True, overflow="ellipsis"),
        )
    if limit is not None and len(rows) == limit:
        table.caption = f"the newest {limit}; --limit N shows more, --limit 0 all"
        table.caption_justify = "left"
    return table


def _write_csv(rows: list[dict[str, Any]]) -> None:
    from shipyard.prediction_log import COLUMNS

    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow([column.name for column in COLUMNS])
    for row in rows:
        writer.writerow([_csv_text(row[column.name], json=column.json) for column in COLUMNS])


def _write_json(rows: list[dict[str, Any]]) -> None:
    sys.stdout.write(orjson.dumps(rows, option=_JSON).decode() + "\n")


def predictions(
    model: Annotated[str | None, typer.Option(help="Only this model's predictions.")] = None,
    since: Annotated[
        str | None,
        typer.Option(
            metavar="ISO-TIME",
            help="Only predictions at or after this time (local unless it has a zone) "
            "or this age ago: 30m, 2h, 7d.",
        ),
    ] = None,
    limit: Annotated[
        int, typer.Option(min=0, help="How many of the newest to show; 0 shows all.")
    ] = 100,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format", help="table (inputs shortened), or csv / json with every field in full."
        ),
    ] = OutputFormat.table,
) -> None:
    """Show logged predictions, newest first, spooled and compacted alike."""
    from shipyard.prediction_log import parse_since

    try:
        since_time = parse_since(since) if since is not None else None
    except InvalidRequest as exc:
        raise typer.BadParameter(str(exc), param_hint="--since") from None
    with open_project() as project:
        rows = project.newest_predictions(model=model, since=since_time, limit=limit or None)
    if output_format is OutputFormat.csv:
        _write_csv(rows)
    elif output_format is OutputFormat.json:
        _write_json(rows)
    elif not rows:
        what = f"of model '{model}' " if model else ""
        console.print(f"no predictions {what}logged" + (" in that time" if since else ""))
    else:
        console.print(_table(rows, limit=limit or None))


def register(app: typer.Typer) -> None:
    app.command()(predictions)
