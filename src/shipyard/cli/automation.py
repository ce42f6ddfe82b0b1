"""``shipyard automation MODEL [LEVEL]``: show or set a model's automation level.

One call on ``project.automation``; running servers follow the store within a second.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape

from shipyard.cli.console import console
from shipyard.cli.project import open_project
from shipyard.cli.review import AsFormat, Format, percent


def automation(
    model: Annotated[str, typer.Argument(help="Model name.")],
    level: Annotated[
        str | None, typer.Argument(help="full, partial, assist or shadow; left out: show.")
    ] = None,
    target_precision: Annotated[
        float | None, typer.Option(help="Classifiers at partial: precision to reach.")
    ] = None,
    max_interval_width: Annotated[
        float | None, typer.Option(help="Regressors at partial: widest interval decided alone.")
    ] = None,
    reason: Annotated[str, typer.Option(help="Why (kept in the history).")] = "",
    output: AsFormat = Format.table,
) -> None:
    """Show or set a model's automation level; servers follow within a second."""
    with open_project() as project:
        control = project.automation
        if level is not None:
            control.set(
                model, level, target_precision=target_precision,
                max_interval_width=max_interval_width, reason=reason,
            )  # fmt: skip
        described = control.describe(model)
        if output is Format.json:
            print(json.dumps(described, indent=2))
            return
        line = f"[bold]{escape(model)}[/]: automation level [bold]{described['level']}[/]"
        if described["target_precision"] is not None:
            line += f", target precision {described['target_precision']:.0%}"
        if described["max_interval_width"] is not None:
            line += f", max interval width {described['max_interval_width']:.4g}"
        console.print(line)
        plan = described["plan"]
        if plan is not None:
            share = percent(plan["expected_auto_share"])
            if plan["threshold"] is None:
                console.print(f"version {plan['version']}: no threshold meets the target")
            else:
                quality = (
                    f"precision {percent(plan['expected_precision'])}"
                    if plan["expected_precision"] is not None
                    else f"coverage {percent(plan['expected_coverage'])}"
                )
                console.print(
                    f"version {plan['version']}: threshold {plan['threshold']:.4g}, expected "
                    f"{share} decided alone at {quality} (eval split)"
                )
        for event in described["history"][-5:]:
            before = (event["before"] or {}).get("level", "-")
            console.print(
                f"  {event['at'][:19]} {escape(event['actor'])}: {before} → "
                f"{event['after']['level']} {escape(event['reason'])}"
            )


def register(app: typer.Typer) -> None:
    app.command()(automation)
