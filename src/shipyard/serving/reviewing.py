"""Review routes: the review queue and the automation levels over HTTP.

Each route is one call on ``project.review`` or ``project.automation``, made in the
thread pool.  With an API token configured every route here requires it.  A reviewer
names themself on every call; the store makes sure two reviewers never hold one item
and that nobody labels an item they do not hold.

    curl -H "Authorization: Bearer $TOKEN" -d '{"reviewer": "ana"}' localhost:8000/review/claim
    curl -H "Authorization: Bearer $TOKEN" -d '{"reviewer": "ana", "label": "yes"}' \\
        localhost:8000/review/items/12/label
    curl -H "Authorization: Bearer $TOKEN" -d '{"level": "partial"}' \\
        localhost:8000/admin/automation/churn/level
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
)
from starlette.concurrency import run_in_threadpool

from shipyard.errors import (
    InvalidRequest,
    ModelNotFound,
    RecordNotFound,
    ReviewConflict,
    ShipyardError,
    StoreUnavailable,
    Unauthorized,
)
from shipyard.project import Project
from shipyard.review import LEVELS
from shipyard.serving import protocol
from shipyard.serving.auth import TokenCheck
from shipyard.serving.routes import error_descriptions

__all__ = ["review_router"]

Status = Literal["open", "disputed", "resolved", "skipped", "expired"]


# Strict: a JSON 0 is not false, "1" is not a number (the document says what is).
_STRICT = ConfigDict(strict=True)
Label = StrictStr | StrictInt | StrictFloat | StrictBool
ItemId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The review item's id.")]


class ClaimRequest(BaseModel):
    model_config = _STRICT

    reviewer: str = Field(min_length=1, max_length=100, description="Who claims.")
    model: str | None = Field(default=None, description="Only this model's items.")
    adjudication: bool = Field(default=False, description="Take a disputed item to settle.")


class LabelRequest(BaseModel):
    model_config = _STRICT

    reviewer: str = Field(min_length=1, max_length=100, description="Who holds the item.")
    label: Label = Field(
        description="A class of the item's model (classifiers; checked against its classes) "
        "or a number (regressors)."
    )


class SkipRequest(BaseModel):
    model_config = _STRICT

    reviewer: str = Field(min_length=1, max_length=100)
    reason: str = ""


class ReleaseRequest(BaseModel):
    model_config = _STRICT

    reviewer: str = Field(min_length=1, max_length=100)


class LevelRequest(BaseModel):
    model_config = _STRICT

    level: Literal["full", "partial", "assist", "shadow"]
    target_precision: float | None = Field(default=None, gt=0, lt=1)
    max_interval_width: float | None = Field(default=None, gt=0)
    reason: str = ""
    actor: str | None = None


def _responses(*errors: type[ShipyardError]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": protocol.ErrorResponse, "description": description}
        for status, description in error_descriptions(errors).items()
    }


_READ = (StoreUnavailable, Unauthorized)
_ITEM = (*_READ, RecordNotFound, ModelNotFound)
_ACT = (*_ITEM, InvalidRequest, ReviewConflict)


def review_router(project: Project, tokens: TokenCheck) -> APIRouter:
    """The ``/review`` and ``/admin/automation`` routes, guarded by ``tokens``."""

    def authorized(request: Request) -> None:
        tokens.check(request.scope["headers"])

    router = APIRouter(tags=["review"], dependencies=[Depends(authorized)])
    queue = project.review
    automation = project.automation

    @router.get(
        "/review/items", summary="Queued items, oldest first.", responses=_responses(*_ITEM)
    )
    async def items(
        model: str | None = Query(default=None),
        status: Annotated[Status | None, Query()] = None,
        limit: int = Query(default=100, ge=1, le=1000),
        offset: int = Query(default=0, ge=0, le=2**63 - 1),
    ) -> list[dict[str, Any]]:
        def read() -> list[dict[str, Any]]:
            found = queue.items(model=model, status=status, limit=limit, offset=offset)
            return [view.to_dict() for view in queue.views(found)]

        return await run_in_threadpool(read)

    @router.get(
        "/review/items/{item_id}",
        summary="One item as a reviewer sees it.",
        responses=_responses(*_ITEM),
    )
    async def item(item_id: ItemId) -> dict[str, Any]:
        return (await run_in_threadpool(queue.item, item_id)).to_dict()

    @router.post(
        "/review/claim",
        summary="Hold the next item for a reviewer ('item' is null when there is none).",
        responses=_responses(*_ACT),
    )
    async def claim(body: ClaimRequest) -> dict[str, Any]:
        view = await run_in_threadpool(
            queue.claim, body.reviewer, model=body.model, adjudication=body.adjudication
        )
        return {"item": None if view is None else view.to_dict()}

    async def acted(function: Any, *args: Any) -> dict[str, Any]:
        record = await run_in_threadpool(function, *args)
        return queue.view(record).to_dict()

    @router.post(
        "/review/items/{item_id}/label",
        summary="Label an item you hold.",
        responses=_responses(*_ACT),
    )
    async def label(item_id: ItemId, body: LabelRequest) -> dict[str, Any]:
        return await acted(queue.label, item_id, body.reviewer, body.label)

    @router.post(
        "/review/items/{item_id}/adjudicate",
        summary="Settle a disputed item you hold.",
        responses=_responses(*_ACT),
    )
    async def adjudicate(item_id: ItemId, body: LabelRequest) -> dict[str, Any]:
        return await acted(queue.adjudicate, item_id, body.reviewer, body.label)

    @router.post(
        "/review/items/{item_id}/skip",
        summary="Close an item you hold that cannot be labelled.",
        responses=_responses(*_ACT),
    )
    async def skip(item_id: ItemId, body: SkipRequest) -> dict[str, Any]:
        return await acted(queue.skip, item_id, body.reviewer, body.reason)

    @router.post(
        "/review/items/{item_id}/release",
        summary="Give an item you hold back to the queue.",
        responses=_responses(*_ACT),
    )
    async def release(item_id: ItemId, body: ReleaseRequest) -> dict[str, Any]:
        return await acted(queue.release, item_id, body.reviewer)

    @router.get(
        "/review/stats/{model}",
        summary="Agreement per confidence bucket, auto-decided precision, reviewer agreement.",
        responses=_responses(*_ITEM, InvalidRequest),
    )
    async def stats(
        model: str, version: int | None = Query(default=None, ge=1, le=2**63 - 1)
    ) -> Any:
        found = await run_in_threadpool(queue.stats, model, version=version)
        return protocol.finite(found.to_dict())

    @router.get(
        "/review/guidelines/{model}",
        summary="A model's labelling guideline and its versions.",
        responses=_responses(*_ITEM, InvalidRequest),
    )
    async def guidelines(model: str) -> list[dict[str, Any]]:
        history = await run_in_threadpool(queue.guideline_history, model)
        return [
            {"version": g.version, "text": g.text, "author": g.author,
             "created_at": g.created_at.isoformat()}
            for g in history
        ]  # fmt: skip

    @router.get(
        "/admin/automation/{model}",
        summary="A model's automation level, what it promises, and its history.",
        responses=_responses(*_ITEM),
    )
    async def level(model: str) -> dict[str, Any]:
        return await run_in_threadpool(automation.describe, model)

    @router.post(
        "/admin/automation/{model}/level",
        summary=f"Set a model's automation level ({', '.join(LEVELS)}).",
        responses=_responses(*_ACT),
    )
    async def set_level(model: str, body: LevelRequest, request: Request) -> dict[str, Any]:
        client = request.client.host if request.client is not None else "unknown"

        def change() -> dict[str, Any]:
            automation.set(
                model, body.level, target_precision=body.target_precision,
                max_interval_width=body.max_interval_width, reason=body.reason,
                actor=body.actor or f"api ({client})",
            )  # fmt: skip
            return automation.describe(model)

        return await run_in_threadpool(change)

    return router
