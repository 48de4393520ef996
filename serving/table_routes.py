"""What the spend and KPI routers share: the errors they document and the query parameters of a deletion."""

from __future__ import annotations

from typing import Any

from fastapi import Query

from serving.errors import ErrorResponse
from serving.request_body import TABLE_BODY_BYTES, TABLE_MAX_ROWS

AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or unknown API key"},
    403: {"model": ErrorResponse, "description": "A key of another kind"},
}
DELETE_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"model": ErrorResponse, "description": "No filter (or all with filters), or since after until"},
    404: {"model": ErrorResponse, "description": "No stored row matches; nothing was deleted"},
    422: {"model": ErrorResponse, "description": "A parameter that is not a YYYY-MM-DD date, a flag or a short text"},
}
SINCE = Query(description="First day, inclusive (YYYY-MM-DD; any date, also one an import would refuse)")
UNTIL = Query(description="Last day, inclusive (YYYY-MM-DD; any date)")
DRY_RUN = Query(description="Count what would be deleted; delete nothing")
IMPORT_ERRORS: dict[int | str, dict[str, Any]] = {
    **AUTH_ERRORS,
    400: {"model": ErrorResponse, "description": "A bad row (the message names it); nothing was stored"},
    413: {"model": ErrorResponse, "description": f"Over {TABLE_BODY_BYTES:,} bytes or {TABLE_MAX_ROWS:,} rows"},
    415: {"model": ErrorResponse, "description": "Neither application/json nor text/csv"},
}
