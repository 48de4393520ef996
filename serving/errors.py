"""One error shape for every failure: ``{"error": {"code": …, "message": …}}``, never a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import XmoError

logger = logging.getLogger("xmo.serving")


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of an error response."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [{"location": list(e.get("loc", ())), "message": e.get("msg", "")} for e in exc.errors()]


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


def install_error_handlers(app: FastAPI) -> None:
    """Register handlers that turn every exception into the stable JSON shape."""

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
        return JSONResponse(
            error_body(code, str(exc.detail)), status_code=exc.status_code, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        logger.error("unhandled error: %s", type(exc).__name__)
        return JSONResponse(error_body("internal_error", "internal error"), status_code=500)
