"""The review pages: the queue per model with its statistics, and one item at a time
with its label buttons and keyboard shortcuts (what ``shipyard review next`` does in a
terminal).

A reviewer is a name typed once and kept in a plain cookie (``shipyard_reviewer``,
"dashboard" until changed): the queue's leases and the agreement statistics are per
name, and the dashboard's sign-in is one token for everybody.
"""

from __future__ import annotations

import math
import urllib.parse
from typing import Any

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from shipyard.errors import InvalidRequest, ReviewConflict, ShipyardError
from shipyard.project import Project
from shipyard.review.queue import MAX_REVIEWER_LENGTH
from shipyard.store.records import ReviewItemRecord
from shipyard.store.tables import utcnow
from shipyard.ui.rendering import Dashboard

__all__ = ["DEFAULT_REVIEWER", "REVIEWER_COOKIE", "routes"]

REVIEWER_COOKIE = "shipyard_reviewer"
DEFAULT_REVIEWER = "dashboard"
#: Classes that get a number key (1..9); more classes still get a button.
KEYED_CLASSES = 9


def reviewer_of(request: Request) -> str:
    """The name this browser reviews under."""
    raw = request.cookies.get(REVIEWER_COOKIE, "")
    name = urllib.parse.unquote(raw).strip()
    return name if 0 < len(name) <= MAX_REVIEWER_LENGTH else DEFAULT_REVIEWER


def routes(ui: Dashboard) -> APIRouter:
    router = APIRouter()
    project = ui.project

    @router.get("/review")
    def queue(request: Request, model: str | None = None) -> Response:
        depth = {entry.model: entry for entry in project.review.depth()}
        names = sorted({m.name for m in project.registry.models()} | set(depth))
        # The statistics join every labelled answer of the model (as `shipyard review
        # stats` does): they are drawn only for a model asked for, not on the queue alone.
        selected = model
        stats, problem = None, None
        if selected is not None:
            project.registry.versions(selected)  # an unknown name is a ModelNotFound: a 404
            try:
                stats = project.review.stats(selected)
            except ShipyardError as exc:
                problem = str(exc)
        return ui.pages.render(
            request,
            "review.html.j2",
            section="/review",
            names=names,
            depth=depth,
            selected=selected,
            stats=stats,
            problem=problem,
            reviewer=reviewer_of(request),
            max_reviewer=MAX_REVIEWER_LENGTH,
        )

    @router.post("/review/reviewer")
    async def set_reviewer(request: Request) -> Response:
        fields = await ui.form(request)
        name = fields.get("reviewer", "").strip()
        back = fields.get("next", "/review")
        back = back if back.startswith("/review") and not back.startswith("//") else "/review"
        if not 0 < len(name) <= MAX_REVIEWER_LENGTH:
            return ui.pages.redirect(
                request, back, error=f"a reviewer is named by 1 to {MAX_REVIEWER_LENGTH} characters"
            )
        response = ui.pages.redirect(request, back, done=f"reviewing as {name}")
        response.set_cookie(
            REVIEWER_COOKIE,
            urllib.parse.quote(name),
            max_age=365 * 86400,
            path=request.scope.get("root_path", "") or "/",
            samesite="strict",
        )
        return response

    @router.get("/review/{model}/next")
    def next_item(request: Request, model: str) -> Response:
        view = project.review.claim(reviewer_of(request), model=model)
        if view is None:
            query = urllib.parse.urlencode({"model": model})
            return ui.pages.redirect(request, f"/review?{query}", done="nothing to review")
        return ui.pages.redirect(request, f"/review/items/{view.item.id}")

    @router.get("/review/items/{item_id}")
    def item(request: Request, item_id: int) -> Response:
        view = project.review.item(item_id)
        record = view.item
        package = project.registry.load(f"{record.model}:{record.version}").package
        reviewer = reviewer_of(request)
        return ui.pages.render(
            request,
            "review_item.html.j2",
            section="/review",
            item=view.to_dict(),
            task=package.task,
            classes=[str(value) for value in package.classes or []],
            keyed=KEYED_CLASSES,
            reviewer=reviewer,
            held=_held_by(record, reviewer),
            max_reviewer=MAX_REVIEWER_LENGTH,
        )

    @router.post("/review/items/{item_id}/label")
    async def label(request: Request, item_id: int) -> Response:
        fields = await ui.form(request)
        reviewer = reviewer_of(request)
        record = await run_in_threadpool(project.store.review.item, item_id)
        try:
            value = await run_in_threadpool(_label_value, project, record, fields.get("label"))
            done = await run_in_threadpool(project.review.label, item_id, reviewer, value)
        except (InvalidRequest, ReviewConflict) as exc:
            return ui.pages.redirect(request, f"/review/items/{item_id}", error=str(exc))
        return ui.pages.redirect(request, _next_path(record.model), done=_outcome(done))

    @router.post("/review/items/{item_id}/skip")
    async def skip(request: Request, item_id: int) -> Response:
        fields = await ui.form(request)
        reviewer = reviewer_of(request)
        record = await run_in_threadpool(project.store.review.item, item_id)
        reason = fields.get("reason", "").strip()
        try:
            done = await run_in_threadpool(project.review.skip, item_id, reviewer, reason)
        except (InvalidRequest, ReviewConflict) as exc:
            return ui.pages.redirect(request, f"/review/items/{item_id}", error=str(exc))
        return ui.pages.redirect(request, _next_path(record.model), done=_outcome(done))

    return router


def _next_path(model: str) -> str:
    return f"/review/{urllib.parse.quote(model, safe='')}/next"


def _held_by(item: ReviewItemRecord, reviewer: str) -> bool:
    """Whether ``reviewer`` holds ``item`` now and may label it."""
    return (
        item.status == "open"
        and item.claimed_by == reviewer
        and item.lease_until is not None
        and item.lease_until >= utcnow()
    )


def _label_value(project: Project, item: ReviewItemRecord, text: str | None) -> Any:
    """A posted label as the model's kind of value: a number for a regressor (the queue
    checks a class name against the version's classes)."""
    text = (text or "").strip()
    if not text:
        raise InvalidRequest("the label is missing", field="label")
    package = project.registry.load(f"{item.model}:{item.version}").package
    if package.task != "regression":
        return text
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequest(f"the label must be a number, not {text!r}", field="label") from None
    if not math.isfinite(value):
        raise InvalidRequest(f"the label must be a finite number, not {text}", field="label")
    return value


def _outcome(record: ReviewItemRecord) -> str:
    """What an act on an item led to, as ``shipyard review`` says it."""
    if record.status == "resolved":
        return (
            f"item {record.id} resolved ({record.resolution}): {record.label}; recorded as feedback"
        )
    if record.status == "disputed":
        return f"item {record.id} is disputed: it goes to adjudication"
    if record.status == "open":
        return f"item {record.id} labelled; it waits for a second reviewer"
    return f"item {record.id} {record.status}"
