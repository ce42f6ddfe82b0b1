"""A model's monitoring as one HTML file that opens offline and is drawn, not tabulated.

The page inlines Plotly.js from the installed ``plotly`` package (no CDN: reports are
mailed, archived and opened on air-gapped machines) and embeds each chart as JSON that
the page hands to ``Plotly.newPlot``.  Plotly's Python API is never imported.

Sections: drift per feature over windows (a heatmap of score ÷ threshold), reference
against current distribution per feature, performance over time (realised with its
interval, the label-free estimate, the version's evaluation), output drift, latency and
throughput, schema skew of the latest window and the alerts.

>>> from pathlib import Path
>>> write_report(data, Path("report.html"))  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from shipyard.errors import ShipyardError
from shipyard.monitoring._report_sections import (
    FILTERS,
    MAX_DISTRIBUTIONS,
    ReportData,
    distribution,
    page_context,
)

__all__ = [
    "MAX_DISTRIBUTIONS",
    "ReportData",
    "distribution",
    "plotly_bundle",
    "render_report",
    "render_sections",
    "script_json",
    "write_report",
]


def render_report(data: ReportData) -> str:
    """The whole report as one self-contained HTML document."""
    context, charts = page_context(data)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            **context,
            plotly_js=Markup(_plotly_js()),
            figures_json=Markup(script_json(charts)),
        )
    )


def render_sections(context: Mapping[str, Any]) -> Markup:
    """The report's sections alone (summary to alerts), from ``page_context``'s
    variables: the dashboard's monitoring page shows them as the report does."""
    return Markup(_environment().get_template("report_sections.html.j2").render(**context))


def write_report(data: ReportData, path: Path) -> Path:
    """Render the report and write it to ``path`` atomically; returns ``path``.

    The page is rendered before anything is written, then written to a temporary file
    beside ``path`` and moved over it: readers see the old file or the whole new one.
    """
    page = render_report(data).encode("utf-8")
    path = Path(path)
    staging: Path | None = None
    try:
        staging = path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"
        # os.open honours the umask (mkstemp would make the report readable by its owner only).
        handle = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(handle, "wb") as file:
            file.write(page)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staging, path)
        staging = None
    except OSError as exc:
        raise ShipyardError(
            f"cannot write the report to {str(path)!r}: {exc.strerror or exc}; "
            "choose an --output in an existing folder you can write to"
        ) from exc
    finally:
        if staging is not None:
            staging.unlink(missing_ok=True)
    return path


def script_json(value: Any) -> str:
    """JSON that is safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` appear."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    for character, escaped in (
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("&", "\\u0026"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(character, escaped)
    return text


@functools.cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("shipyard.monitoring", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(FILTERS)
    return environment


@functools.cache
def plotly_bundle() -> Path:
    """plotly.min.js of the installed plotly package, found without importing plotly."""
    spec = importlib.util.find_spec("plotly")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        bundle = Path(folder, "package_data", "plotly.min.js")
        if bundle.is_file():
            return bundle
    raise ShipyardError(
        "reports and the dashboard draw with plotly's bundled plotly.min.js, which is not "
        "installed; install it with: pip install 'plotly>=5.20'"
    )


@functools.cache
def _plotly_js() -> str:
    script = plotly_bundle().read_text(encoding="utf-8")
    # "</script" would end the inline element early; "<\/" means the same in JS.
    return re.sub(r"</(script)", r"<\\/\1", script, flags=re.IGNORECASE)
