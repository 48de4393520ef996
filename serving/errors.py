"""One error shape for every failure: ``{"error": {"code": …, "message": …}}``, never a stack trace."""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import XmoError

logger = logging.getLogger("xmo.serving")


class ErrorDetail(BaseModel):
    """What went wrong: a stable code for programs and a message for people."""

    code: str = Field(description="Stable, e.g. invalid_input, not_found, not_ready, unauthorized")
    message: str
    details: list[dict[str, Any]] | None = Field(
        default=None, description="For invalid_request: every invalid field (location and message)"
    )


class ErrorResponse(BaseModel):
    """The JSON shape of every error."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": {"code": "invalid_input", "message": "query parameter 'total' must be positive"}}]
        }
    )

    error: ErrorDetail


# Request errors raised by routes and their plumbing (serving.request_body, serving.json_body) ------------------
class MalformedBody(XmoError):
    """A body that is not UTF-8 JSON within xmo's limits."""

    code = "invalid_json"
    http_status = 400


class UnsupportedMediaType(XmoError):
    """A body of a content type the route does not read."""

    code = "unsupported_media_type"
    http_status = 415


class InvalidBatch(XmoError):
    """A ``POST /v1/events`` body of the wrong shape (not an array)."""

    code = "invalid_request"
    http_status = 422


class InvalidTimestamp(XmoError):
    """A ``ts`` parameter that is not a time."""

    code = "invalid_timestamp"
    http_status = 400


class UnknownLinkClient(XmoError):
    """A link naming no live client."""

    code = "unknown_client"
    http_status = 400


FASTAPI_BODY_ERROR = "There was an error parsing the body"  # FastAPI's 400 for a body that is not JSON
_ERROR_REF = "#/components/schemas/ErrorResponse"  # document_errors adds the component
_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _error_content() -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": _ERROR_REF}}}


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "Invalid input; the message says which value and why",
    401: "Missing or unknown key",
    403: "A key of another kind",
    404: "Not found (or not the caller's)",
    409: "Not ready (no data or model yet; the message names the command that makes it) or a conflict",
    413: "The request is too large",
    415: "Unsupported content type",
    422: "The request does not have the documented shape; details lists every invalid field",
    429: "Too many requests; retry after Retry-After seconds",
}


def error_responses(*codes: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route that may answer these error codes with the JSON error shape.

    ``descriptions`` override the default text per code, keyed ``e400``, ``e409``, …. The content is JSON even on
    routes that answer HTML or images (FastAPI would give a ``model`` the route's media type).
    """
    return {
        code: {"description": descriptions.get(f"e{code}", ERROR_DESCRIPTIONS[code]), "content": _error_content()}
        for code in codes
    }


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of an error response."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _validation_message(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":  # FastAPI's "JSON decode error": say so, and where
        reason = error.get("ctx", {}).get("error")
        return "the body is not valid JSON" + (f" ({reason})" if reason else "")
    return str(error.get("msg", ""))


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"location": list(e.get("loc", ())), "message": _validation_message(e)} for e in exc.errors()]


class ErrorShieldMiddleware:
    """The last line: an exception that escaped every handler becomes a JSON 500, logged by type only.

    Starlette would log the full exception (whose message may quote request data) and re-raise it.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # the shield itself: nothing else may see the exception
            logger.error("unhandled error on %s: %s", getattr(scope.get("route"), "path", "?"), type(exc).__name__)
            if not started:
                response = JSONResponse(error_body("internal_error", "internal error"), status_code=500)
                await response(scope, receive, send)


def document_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """Make an OpenAPI document tell the truth about errors, in place.

    A 422 is the JSON error shape (not FastAPI's ``{"detail": [...]}``, which the handlers replace), every
    operation that takes a key documents 401 and 403 (the key dependencies answer them before the route runs),
    and every operation with a body documents 400 (FastAPI answers it for a body that is not JSON).
    """
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    error_schema = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in error_schema.pop("$defs", {}).items():
        components.setdefault(name, definition)
    components.setdefault("ErrorResponse", error_schema)
    validation_ref = "#/components/schemas/HTTPValidationError"
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.get("responses") if isinstance(operation, dict) else None
            if responses is None:
                continue
            invalid = responses.get("422", {})
            if invalid.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref") == validation_ref:
                responses["422"] = {"description": ERROR_DESCRIPTIONS[422], "content": _error_content()}
            codes = [400] if "requestBody" in operation else []
            codes += [401, 403] if operation.get("security") else []
            for code in codes:
                documented = {"description": ERROR_DESCRIPTIONS[code], "content": _error_content()}
                responses.setdefault(str(code), documented)
    for name in _VALIDATION_SCHEMAS:  # unused once every 422 is the error shape (the first refers to the second)
        if f'"#/components/schemas/{name}"' not in json.dumps(schema):
            components.pop(name, None)
    return schema


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers that turn every exception into the stable JSON shape, and document that shape."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(XmoError)
    async def _xmo_error(_request: Request, exc: XmoError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, str(exc)), status_code=exc.http_status)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        first = details[0] if details else {"location": [], "message": "invalid request"}
        where = ".".join(str(p) for p in first["location"])
        return JSONResponse(error_body("invalid_request", f"{where}: {first['message']}", details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 429: "rate_limited"}.get(
            exc.status_code, "http_error"
        )
        message = str(exc.detail)
        if exc.status_code == 400 and message == FASTAPI_BODY_ERROR:
            code, message = "invalid_json", "the body is not valid JSON (or not UTF-8)"
        return JSONResponse(
            error_body(code, message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error: %s", type(exc).__name__)
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)
