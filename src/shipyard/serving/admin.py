"""Admin routes: a model's deployment over HTTP, as ``shipyard deploy`` and friends.

Each route is one call on ``project.deployments``, made in the thread pool (a deploy
loads the candidate to check it); every server process follows the store within
seconds, so the process answering the call needs no special role.  With an API token
configured every route here requires it (``auth.TokenCheck``).

    curl -H "Authorization: Bearer $TOKEN" -d '{"version": 4, "percent": 10}' \\
        localhost:8000/admin/deployments/ames/deploy
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from shipyard.errors import (
    DeploymentConflict,
    DeploymentError,
    InvalidRequest,
    ModelNotFound,
    NoDeployment,
    ShipyardError,
    StoreUnavailable,
    Unauthorized,
)
from shipyard.project import Project
from shipyard.serving import protocol
from shipyard.serving.auth import TokenCheck
from shipyard.serving.routes import error_descriptions
from shipyard.store.records import DeploymentEventRecord, DeploymentRecord

__all__ = ["admin_router"]


class DeployRequest(BaseModel):
    version: int = Field(ge=1, description="The version to deploy beside production.")
    strategy: Literal["shadow", "canary", "blue-green"] = "canary"
    percent: float | None = Field(
        default=None, ge=0, le=100, description="Canary: share answered; shadow: share copied."
    )
    sticky_key: str | None = Field(
        default=None, min_length=1, description="A header or row field: one value, one arm."
    )
    steps: list[float] | None = Field(
        default=None, min_length=1, description="Analysed canary: percents to pass, rising."
    )
    interval_seconds: float | None = Field(default=None, gt=0)
    max_failures: int | None = Field(default=None, ge=1)
    analyze: bool = False
    force: bool = Field(default=False, description="Deploy a version that is not blessed.")
    reason: str = ""
    actor: str | None = Field(default=None, description="Who asks (default: 'api').")


class PercentRequest(BaseModel):
    percent: float = Field(ge=0, le=100)
    reason: str = ""
    actor: str | None = None


class ChangeRequest(BaseModel):
    reason: str = ""
    actor: str | None = None


class DeploymentBody(BaseModel):
    id: int
    model: str
    primary: int
    candidate: int
    strategy: str
    percent: float
    sticky_key: str | None
    live: str
    status: str
    analysis: dict[str, Any] | None
    revision: int
    created_at: str
    ended_at: str | None
    description: str


class EventBody(BaseModel):
    deployment: int
    action: str
    actor: str
    reason: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any]
    at: str


class ModelDeployment(BaseModel):
    model: str
    production: int | None
    deployment: DeploymentBody | None
    history: list[EventBody]


def _deployment(record: DeploymentRecord) -> DeploymentBody:
    return DeploymentBody(
        id=record.id,
        model=record.model,
        primary=record.primary_version,
        candidate=record.candidate_version,
        strategy=record.strategy,
        percent=record.percent,
        sticky_key=record.sticky_key,
        live=record.live,
        status=record.status,
        analysis=record.analysis,
        revision=record.revision,
        created_at=record.created_at.isoformat(),
        ended_at=None if record.ended_at is None else record.ended_at.isoformat(),
        description=record.describe(),
    )


def _event(event: DeploymentEventRecord) -> EventBody:
    return EventBody(
        deployment=event.deployment_id,
        action=event.action,
        actor=event.actor,
        reason=event.reason,
        before=event.before,
        after=event.after,
        details=event.details,
        at=event.created_at.isoformat(),
    )


def _responses(*errors: type[ShipyardError]) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"model": protocol.ErrorResponse, "description": description}
        for status, description in error_descriptions(errors).items()
    }


_READ_ERRORS = (ModelNotFound, StoreUnavailable, Unauthorized)
_CHANGE_ERRORS = (*_READ_ERRORS, DeploymentError, DeploymentConflict, NoDeployment)


def admin_router(project: Project, tokens: TokenCheck) -> APIRouter:
    """The ``/admin`` routes over ``project``'s deployments, guarded by ``tokens``."""

    def authorized(request: Request) -> None:
        tokens.check(request.scope["headers"])

    router = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(authorized)])
    deployments = project.deployments

    def actor_of(given: str | None, request: Request) -> str:
        client = request.client.host if request.client is not None else "unknown"
        return given or f"api ({client})"

    async def call(function: Callable[..., DeploymentRecord], *args: Any, **kw: Any) -> Any:
        return _deployment(await run_in_threadpool(function, *args, **kw))

    @router.get(
        "/deployments",
        summary="Every model's active deployment.",
        responses=_responses(*_READ_ERRORS),
    )
    async def active() -> list[DeploymentBody]:
        return [_deployment(record) for record in await run_in_threadpool(deployments.active)]

    @router.get(
        "/deployments/{model}",
        summary="A model's production version, deployment and history.",
        responses=_responses(*_READ_ERRORS),
    )
    async def model_deployment(model: str) -> ModelDeployment:
        def read() -> ModelDeployment:
            history = [_event(event) for event in deployments.history(model)]
            production = project.registry.find(model, "production")
            current = deployments.current(model)
            return ModelDeployment(
                model=model,
                production=None if production is None else production.version,
                deployment=None if current is None else _deployment(current),
                history=history,
            )

        return await run_in_threadpool(read)

    @router.get(
        "/deployments/{model}/comparison",
        summary="The candidate and the primary compared on the same traffic.",
        responses=_responses(*_READ_ERRORS, NoDeployment, InvalidRequest),
    )
    async def comparison(
        model: str,
        since: str | None = Query(
            default=None, description="From this time or age (30m, 2h); default: the start."
        ),
    ) -> dict[str, Any]:
        compared = await run_in_threadpool(deployments.compare, model, since=since)
        return protocol.finite(compared.to_dict())  # type: ignore[no-any-return]

    @router.post(
        "/deployments/{model}/deploy",
        status_code=201,
        summary="Deploy a version beside production: shadow, canary or blue-green.",
        responses=_responses(*_CHANGE_ERRORS),
    )
    async def deploy(model: str, body: DeployRequest, request: Request) -> DeploymentBody:
        options = body.model_dump(exclude={"version", "actor"})
        return await call(  # type: ignore[no-any-return]
            deployments.deploy, model, body.version, actor=actor_of(body.actor, request), **options
        )

    @router.post(
        "/deployments/{model}/percent",
        summary="Move a canary (or a shadow's copied share).",
        responses=_responses(*_CHANGE_ERRORS),
    )
    async def percent(model: str, body: PercentRequest, request: Request) -> DeploymentBody:
        return await call(  # type: ignore[no-any-return]
            deployments.set_percent, model, body.percent, reason=body.reason,
            actor=actor_of(body.actor, request),
        )  # fmt: skip

    for action, function, summary in (
        ("switch", deployments.switch, "Move all of a blue-green deployment's traffic."),
        ("promote", deployments.promote, "Make the candidate production; the deployment ends."),
        ("rollback", deployments.rollback, "End the deployment, or undo the last promotion."),
    ):

        def change(
            function: Callable[..., DeploymentRecord] = function,
        ) -> Callable[..., Any]:
            async def endpoint(model: str, body: ChangeRequest, request: Request) -> DeploymentBody:
                return await call(  # type: ignore[no-any-return]
                    function, model, reason=body.reason, actor=actor_of(body.actor, request)
                )

            return endpoint

        router.add_api_route(
            f"/deployments/{{model}}/{action}",
            change(),
            methods=["POST"],
            summary=summary,
            response_model=DeploymentBody,
            responses=_responses(*_CHANGE_ERRORS),
            name=action,
        )
    return router
