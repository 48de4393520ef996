"""Visitor holdouts for the client's own systems: which visitors to leave out of retargeting or email today.

The same answer as the pixel's ``X-Xmo-Holdout`` header, for one visitor (``GET``) or a batch (``POST``), with
the client's API key. Visitor ids are the xmo cookie's values; nothing is stored or logged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from core.errors import InvalidInput
from privacy.pseudonyms import VISITOR_ID_PATTERN
from serving.answers import HoldoutFlagsOut
from serving.deps import RuntimeDep, TenantDep
from serving.errors import ErrorResponse
from serving.json_body import parse_json
from serving.request_body import EVENTS_BODY_BYTES, read_body, require_json
from serving.runtime import ServiceRuntime
from serving.table_routes import AUTH_ERRORS

router = APIRouter(prefix="/v1/holdout", tags=["experiments"])

MAX_VISITORS = 10_000
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)
_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"model": ErrorResponse, "description": "A visitor id that is not an xmo cookie value, or too many ids"},
}
_POST_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    413: {"model": ErrorResponse, "description": f"A body over {EVENTS_BODY_BYTES:,} bytes"},
    415: {"model": ErrorResponse, "description": "Not application/json"},
}
_POST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["visitor_ids"],
                    "properties": {
                        "visitor_ids": {"type": "array", "maxItems": MAX_VISITORS, "items": {"type": "string"}}
                    },
                },
                "example": {"visitor_ids": ["3f2b9c1d0e8a47b6a5c4d3e2f1a0b9c8"]},
            }
        },
    }
}


def _checked_ids(values: Any) -> list[str]:
    if not isinstance(values, list):
        raise InvalidInput('the body must be {"visitor_ids": [...]}: a list of visitor ids')
    if len(values) > MAX_VISITORS:
        raise InvalidInput(f"{len(values):,} visitor ids: at most {MAX_VISITORS:,} per request")
    for index, value in enumerate(values):
        if not isinstance(value, str) or not _VISITOR_ID.fullmatch(value):
            shown = repr(value)[:80]
            raise InvalidInput(
                f"visitor_ids[{index}] = {shown} is not an xmo visitor id (16-64 letters, digits, - or _)"
            )
    return values


def _answer(runtime: ServiceRuntime, client_id: str, visitor_ids: list[str]) -> dict[str, Any]:
    day = datetime.now(UTC).date()
    index = runtime.holdouts
    running = index.running(client_id, day)
    return {
        "day": day.isoformat(),
        "experiments": [
            {"experiment_id": e.experiment_id, "channel": e.channel, "holdout_share": e.holdout_share} for e in running
        ],
        "visitors": [{"visitor_id": v, "holdout": index.flags(client_id, v, day)} for v in visitor_ids],
    }


@router.get("", response_model=HoldoutFlagsOut, responses=_ERRORS, summary="Is this visitor held out?")
def get_holdout(
    runtime: RuntimeDep,
    client_id: TenantDep,
    visitor_id: Annotated[str, Query(max_length=200, description="The xmo visitor cookie's value")],
) -> dict[str, Any]:
    """The client's running visitor holdouts and those that hold ``visitor_id`` out (exclude it from the channel)."""
    return _answer(runtime, client_id, _checked_ids([visitor_id]))


@router.post(
    "",
    response_model=HoldoutFlagsOut,
    responses=_POST_ERRORS,
    openapi_extra=_POST_BODY,
    summary="Which of these visitors are held out?",
)
async def post_holdout(request: Request, runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The same answer for up to 10,000 visitor ids (``{"visitor_ids": [...]}``), in the order given."""
    require_json(request, 'send {"visitor_ids": [...]} as application/json')
    body = parse_json(await read_body(request, EVENTS_BODY_BYTES, f"send at most {MAX_VISITORS:,} ids a request"))
    if not isinstance(body, dict) or "visitor_ids" not in body:
        raise InvalidInput('the body must be {"visitor_ids": [...]}: a list of visitor ids')
    return _answer(runtime, client_id, _checked_ids(body["visitor_ids"]))
