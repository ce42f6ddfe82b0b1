"""``shipyard review``: the queue (list, show, claim, next, label, skip, adjudicate,
release), its statistics and the labelling guidelines.

Each command is one call on ``project.review``.  ``review
next`` works the queue one item at a time in the terminal: it claims an item, shows it
and asks for a label until the queue has nothing more for you.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from shipyard.cli.console import console, when
from shipyard.cli.project import open_project
from shipyard.errors import InvalidRequest

if TYPE_CHECKING:
    from shipyard.review import ReviewStats, ReviewView
    from shipyard.store.records import ReviewItemRecord


class Format(StrEnum):
    table = "table"
    json = "json"


review_app = typer.Typer(
    help="The review queue: label the answers the model was not trusted to decide.",
    invoke_without_command=True,
    no_args_is_help=False,
)

Reviewer = Annotated[
    str | None, typer.Option("--reviewer", "-r", help="Who you are (default: your user name).")
]
AsFormat = Annotated[Format, typer.Option("--format", help="table or json.")]


def _reviewer(given: str | None) -> str:
    if given:
        return given
    from shipyard.registry import current_user  # the registry's module loads pandas

    return current_user()


def _label_value(text: str) -> Any:
    """A label typed in a terminal: JSON when it parses (numbers, true), else text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _items_table(items: list[ReviewItemRecord]) -> Table:
    table = Table("id", "model", "version", "status", "labels", "reasons", "held by", "queued")
    for item in items:
        given = sum(1 for label in item.labels if label.action == "label")
        table.add_row(
            str(item.id),
            escape(item.model),
            str(item.version),
            item.status,
            f"{given}/{item.labels_required}",
            escape("; ".join(item.reasons)),
            escape(item.claimed_by or "-"),
            when(item.created_at),
        )
    return table


def _show(view: ReviewView) -> None:
    shown = view.to_dict()
    inputs = Table("input", "value", box=None)
    for column, value in shown["inputs"].items():
        inputs.add_row(escape(str(column)), escape(json.dumps(value)))
    lines = [
        f"[bold]item {shown['id']}[/] · {escape(shown['model'])}:{shown['version']} · "
        f"{shown['status']} · prediction {shown['prediction_id']}",
        "why queued: " + escape("; ".join(shown["reasons"]) or "-"),
    ]
    if shown["blind"] and shown["suggestion"] is None:
        lines.append("the model's answer is hidden (blind review)")
    else:
        suggestion = f"suggestion: [bold]{escape(json.dumps(shown['suggestion']))}[/]"
        if shown["confidence"] is not None:
            suggestion += f" (confidence {shown['confidence']:.2f})"
        if shown["interval"] is not None:
            low, high = shown["interval"]
            suggestion += f" (interval {low:.4g} to {high:.4g})"
        lines.append(suggestion)
    for label in shown["labels"]:
        lines.append(
            f"{label['action']} by {escape(label['reviewer'])}: "
            f"{escape(json.dumps(label['label']))}"
        )
    if shown["label"] is not None:
        lines.append(f"resolved ({shown['resolution']}): {escape(json.dumps(shown['label']))}")
    console.print(Panel("\n".join(lines), expand=False))
    console.print(inputs)
    guideline = shown["guideline"]
    if guideline is not None:
        console.print(Panel(escape(guideline["text"]), title=f"guideline v{guideline['version']}"))


@review_app.callback()
def review(ctx: typer.Context) -> None:
    """The review queue; with no command, its open and disputed items."""
    if ctx.invoked_subcommand is None:
        list_items(model=None, status=None, limit=50, output=Format.table)


@review_app.command("list")
def list_items(
    model: Annotated[str | None, typer.Option(help="Only this model's items.")] = None,
    status: Annotated[
        str | None, typer.Option(help="open, disputed, resolved, skipped or expired.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 50,
    output: AsFormat = Format.table,
) -> None:
    """Queued items, oldest first."""
    with open_project() as project:
        queue = project.review
        queue.expire()
        items = queue.items(model=model, status=status, limit=limit)  # type: ignore[arg-type]
        if output is Format.json:
            print(json.dumps([view.to_dict() for view in queue.views(items)], indent=2))
            return
        if not items:
            console.print("the review queue is empty")
            return
        console.print(_items_table(items))
        for depth in queue.depth():
            console.print(
                f"{escape(depth.model)}: {depth.open} open, {depth.disputed} disputed"
                + ("" if depth.oldest_open is None else f", oldest {when(depth.oldest_open)}")
            )


@review_app.command()
def show(
    item_id: Annotated[int, typer.Argument(help="The item's id.")],
    output: AsFormat = Format.table,
) -> None:
    """One item as a reviewer sees it."""
    with open_project() as project:
        view = project.review.item(item_id)
        if output is Format.json:
            print(json.dumps(view.to_dict(), indent=2))
        else:
            _show(view)


@review_app.command()
def claim(
    reviewer: Reviewer = None,
    model: Annotated[str | None, typer.Option(help="Only this model's items.")] = None,
    adjudicate: Annotated[bool, typer.Option(help="Take a disputed item to settle.")] = False,
    output: AsFormat = Format.table,
) -> None:
    """Hold the next item for you (for ``review.lease_seconds``) and show it."""
    with open_project() as project:
        view = project.review.claim(_reviewer(reviewer), model=model, adjudication=adjudicate)
        if view is None:
            console.print("nothing to review")
        elif output is Format.json:
            print(json.dumps(view.to_dict(), indent=2))
        else:
            _show(view)


def _done(record: ReviewItemRecord) -> None:
    if record.status == "resolved":
        console.print(
            f"[green]item {record.id} resolved[/] ({record.resolution}): "
            f"{escape(json.dumps(record.label))}; recorded as feedback"
        )
    elif record.status == "disputed":
        console.print(f"[yellow]item {record.id} is disputed[/]: it goes to adjudication")
    elif record.status == "open":
        console.print(f"item {record.id} labelled; it waits for a second reviewer")
    else:
        console.print(f"item {record.id} {record.status}")


@review_app.command()
def label(
    item_id: Annotated[int, typer.Argument(help="The item's id (claimed by you).")],
    value: Annotated[str, typer.Argument(metavar="LABEL", help="A class, or a number.")],
    reviewer: Reviewer = None,
) -> None:
    """Label an item you hold."""
    with open_project() as project:
        _done(project.review.label(item_id, _reviewer(reviewer), _label_value(value)))


@review_app.command()
def adjudicate(
    item_id: Annotated[int, typer.Argument(help="The disputed item's id (claimed by you).")],
    value: Annotated[str, typer.Argument(metavar="LABEL", help="The settled label.")],
    reviewer: Reviewer = None,
) -> None:
    """Settle a disputed item you hold (``claim --adjudicate``)."""
    with open_project() as project:
        _done(project.review.adjudicate(item_id, _reviewer(reviewer), _label_value(value)))


@review_app.command()
def skip(
    item_id: Annotated[int, typer.Argument(help="The item's id (claimed by you).")],
    reviewer: Reviewer = None,
    reason: Annotated[str, typer.Option(help="Why it cannot be labelled.")] = "",
) -> None:
    """Close an item you hold that cannot be labelled as asked."""
    with open_project() as project:
        _done(project.review.skip(item_id, _reviewer(reviewer), reason))


@review_app.command()
def release(
    item_id: Annotated[int, typer.Argument(help="The item's id (claimed by you).")],
    reviewer: Reviewer = None,
) -> None:
    """Give an item you hold back to the queue, unlabelled."""
    with open_project() as project:
        project.review.release(item_id, _reviewer(reviewer))
        console.print(f"item {item_id} is back in the queue")


@review_app.command("next")
def next_item(
    reviewer: Reviewer = None,
    model: Annotated[str | None, typer.Option(help="Only this model's items.")] = None,
    adjudicate: Annotated[bool, typer.Option(help="Settle disputed items.")] = False,
) -> None:
    """Work the queue one item at a time: type a label, ``s`` to skip, ``q`` to stop."""
    name = _reviewer(reviewer)
    with open_project() as project:
        queue = project.review
        done = 0
        while True:
            view = queue.claim(name, model=model, adjudication=adjudicate)
            if view is None:
                console.print(f"nothing (more) to review; {done} done")
                return
            _show(view)
            item_id = view.item.id
            while True:
                answer = typer.prompt("label (s: skip, q: quit)").strip()
                if answer == "q":
                    queue.release(item_id, name)
                    console.print(f"item {item_id} is back in the queue; {done} done")
                    return
                try:
                    if answer == "s":
                        record = queue.skip(item_id, name)
                    elif adjudicate:
                        record = queue.adjudicate(item_id, name, _label_value(answer))
                    else:
                        record = queue.label(item_id, name, _label_value(answer))
                except InvalidRequest as exc:
                    console.print(f"[red]{escape(str(exc))}[/]; try again")
                    continue
                _done(record)
                done += 1
                break


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _print_stats(stats: ReviewStats) -> None:
    console.print(
        f"[bold]{escape(stats.model)}[/] ({stats.task}), automation level [bold]{stats.level}[/]"
    )
    console.print(
        "items: " + (", ".join(f"{n} {s}" for s, n in sorted(stats.statuses.items())) or "none")
    )
    if stats.resolutions:
        console.print(
            "resolved: " + ", ".join(f"{n} {r}" for r, n in sorted(stats.resolutions.items()))
        )
    what = "confidence" if stats.task == "classification" else "interval width"
    buckets = Table(what, "reviewed", "people agreed with the model", title="by " + what)
    for bucket in stats.buckets:
        buckets.add_row(
            f"{bucket.low:.3g} to {bucket.high:.3g}",
            str(bucket.reviewed),
            percent(bucket.agreement),
        )
    if stats.buckets:
        console.print(buckets)
    auto = stats.auto
    if stats.task == "classification":
        interval = (
            ""
            if auto.precision_low is None
            else f" (95%: {auto.precision_low:.1%} to {auto.precision_high:.1%})"
        )
        console.print(
            f"answers decided alone with feedback: {auto.labelled}; "
            f"precision {percent(auto.precision)}{interval}"
        )
    else:
        mae = "-" if auto.mean_absolute_error is None else f"{auto.mean_absolute_error:.4g}"
        console.print(
            f"answers decided alone with feedback: {auto.labelled}; MAE {mae}, "
            f"interval coverage {percent(auto.coverage)}"
        )
    traffic = stats.traffic
    if traffic.threshold is not None:
        console.print(
            f"threshold for precision {traffic.target:.0%} on real traffic: "
            f"{traffic.threshold:.3f} (decides {percent(traffic.share)} alone at "
            f"{percent(traffic.precision)}; {traffic.note})"
        )
    else:
        console.print(f"threshold on real traffic: none ({traffic.note})")
    agreement = stats.agreement
    if agreement.pairs:
        line = (
            f"double-labelled items: {agreement.pairs}; reviewers agreed on "
            f"{percent(agreement.percent_agreement)}"
        )
        if agreement.kappa is not None:
            line += f", Cohen's kappa {agreement.kappa:.3f}"
        if agreement.mean_absolute_difference is not None:
            line += f", mean absolute difference {agreement.mean_absolute_difference:.4g}"
        console.print(line)
    if stats.reviewers:
        table = Table(
            "reviewer", "labels", "skips", "adjudications", "double-labelled",
            "agreed with pair", "adjudicated", "agreed with adjudication",
        )  # fmt: skip
        for reviewer in stats.reviewers:
            table.add_row(
                escape(reviewer.reviewer), str(reviewer.labels), str(reviewer.skips),
                str(reviewer.adjudications), str(reviewer.paired),
                percent(reviewer.agreement_with_pair),
                str(reviewer.adjudicated), percent(reviewer.agreement_with_adjudication),
            )  # fmt: skip
        console.print(table)


@review_app.command()
def stats(
    model: Annotated[str, typer.Argument(help="Model name.")],
    version: Annotated[int | None, typer.Option(help="Version (default: production).")] = None,
    output: AsFormat = Format.table,
) -> None:
    """Evidence for an automation level: agreement per confidence bucket, the precision
    of answers decided alone, the threshold real traffic supports, reviewer agreement."""
    with open_project() as project:
        found = project.review.stats(model, version=version)
        if output is Format.json:
            print(json.dumps(found.to_dict(), indent=2, default=str))
        else:
            _print_stats(found)


@review_app.command()
def guideline(
    model: Annotated[str, typer.Argument(help="Model name.")],
    history: Annotated[bool, typer.Option(help="Every version, not just the latest.")] = False,
) -> None:
    """A model's labelling guideline (``guidelines/MODEL.md``), as reviewers see it."""
    with open_project() as project:
        versions = project.review.guideline_history(model)
        if not versions:
            folder = project.config.review.guidelines
            console.print(f"no guideline for {escape(model)}; write {folder}/{model}.md")
            return
        for record in versions if history else versions[-1:]:
            console.print(
                Panel(
                    escape(record.text),
                    title=f"v{record.version} · {when(record.created_at)}",
                    expand=False,
                )
            )


def register(app: typer.Typer) -> None:
    app.add_typer(review_app, name="review")
