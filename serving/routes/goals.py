"""A client's conversion goals: list, add and remove them with the client's API key."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from features.goals import DEFAULT_RULE, MAX_GOALS_PER_CLIENT, MAX_PATTERN_LENGTH, GoalDefinition, GoalKind, GoalStore
from serving.deps import ActorDep, RuntimeDep, TenantDep
from serving.errors import ErrorResponse
from serving.runtime import ServiceRuntime
from tracking.events import EventType

router = APIRouter(prefix="/v1/goals", tags=["goals"])

_Pattern = Annotated[str | None, Field(min_length=1, max_length=MAX_PATTERN_LENGTH)]


class GoalIn(BaseModel):
    """A goal to add: an event counts when every condition given holds."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"name": "purchase"},
                {"name": "big-order", "kind": "purchase", "match": "purchase*", "min_value": 100},
                {"name": "contact", "kind": "enquiry", "event_type": "pageview", "path": "/contact/thank-you*"},
            ]
        },
    )

    name: str = Field(
        min_length=1,
        max_length=63,
        description="Letters, digits, '-' and '_', starting with a letter or digit (stored in lower case; 400 else)",
        json_schema_extra={"pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"},
    )
    kind: GoalKind | None = Field(default=None, description="Default: the name if it is a kind, else custom")
    event_type: EventType = Field(default=EventType.GOAL, description="The event type that counts")
    match: _Pattern = Field(
        default=None,
        description="Glob on the event's goal name (`*` any run, `?` one character); "
        "a goal or custom goal with neither match nor path matches its own name",
    )
    path: _Pattern = Field(default=None, description="Glob on the page path, e.g. `/checkout/done*`")
    min_value: float | None = Field(default=None, ge=0, allow_inf_nan=False, description="Least event value")


class GoalOut(BaseModel):
    """A stored goal."""

    name: str
    kind: GoalKind
    event_type: EventType
    match: str | None
    path: str | None
    min_value: float | None


class DefaultRule(BaseModel):
    """What counts as a conversion while the client has no goals."""

    active: bool = Field(description="True while the client has no goals")
    description: str


class GoalList(BaseModel):
    """The client's goals, first match first."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "client_id": "acme",
                    "goals": [
                        {
                            "name": "purchase",
                            "kind": "purchase",
                            "event_type": "goal",
                            "match": "purchase",
                            "path": None,
                            "min_value": None,
                        }
                    ],
                    "default_rule": {"active": False, "description": DEFAULT_RULE},
                }
            ]
        }
    )

    client_id: str
    goals: list[GoalOut]
    default_rule: DefaultRule


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or unknown API key"},
    403: {"model": ErrorResponse, "description": "A key of another kind"},
}


def _store(runtime: ServiceRuntime) -> GoalStore:
    return GoalStore(runtime.tenants.engine)


@router.get("", response_model=GoalList, responses=_AUTH_ERRORS)
async def list_goals(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The caller's goals; without any, every `goal` event counts as a conversion."""
    goals = await asyncio.to_thread(_store(runtime).list_goals, client_id)
    return {
        "client_id": client_id,
        "goals": [goal.public() for goal in goals],
        "default_rule": {"active": not goals, "description": DEFAULT_RULE},
    }


@router.post(
    "",
    status_code=201,
    response_model=GoalOut,
    responses={
        **_AUTH_ERRORS,
        400: {"model": ErrorResponse, "description": f"An invalid goal, or already {MAX_GOALS_PER_CLIENT} goals"},
        409: {"model": ErrorResponse, "description": "A goal of that name exists"},
        422: {"model": ErrorResponse, "description": "The body does not have the goal's shape"},
    },
)
async def add_goal(body: GoalIn, runtime: RuntimeDep, client_id: TenantDep, actor: ActorDep) -> dict[str, Any]:
    """Add a conversion goal for the caller."""
    goal = GoalDefinition.create(
        body.name,
        kind=body.kind,
        event_type=body.event_type,
        match=body.match,
        path=body.path,
        min_value=body.min_value,
    )
    added = await asyncio.to_thread(lambda: _store(runtime).add_goal(client_id, goal, actor=actor))
    return added.public()


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    responses={**_AUTH_ERRORS, 404: {"model": ErrorResponse, "description": "No goal of that name"}},
)
async def remove_goal(
    runtime: RuntimeDep, client_id: TenantDep, actor: ActorDep, name: Annotated[str, Path(max_length=63)]
) -> Response:
    """Remove one of the caller's goals."""
    await asyncio.to_thread(lambda: _store(runtime).remove_goal(client_id, name, actor=actor))
    return Response(status_code=204)
