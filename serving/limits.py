"""Request size limit for every route: 413 with the JSON error body beyond ``max_bytes``.

Routes with tighter limits of their own (events, spend, KPI) keep them; this is the ceiling for the rest.
A declared ``Content-Length`` over the limit is refused before the body is read; a chunked body is counted
as it arrives and refused once it passes the limit.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from serving.errors import error_body


def _too_large(max_bytes: int) -> str:
    return f"the request body is larger than {max_bytes:,} bytes; send smaller requests"


class BodySizeLimitMiddleware:
    """Refuses request bodies over ``max_bytes``."""

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = None
        for name, value in scope["headers"]:
            if name == b"content-length":
                declared = value
                break
        if declared is not None:
            if declared.isdigit() and int(declared) > self.max_bytes:
                response = JSONResponse(error_body("too_large", _too_large(self.max_bytes)), status_code=413)
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)  # the server holds the body to its declared length
            return
        received = 0

        async def counted_receive() -> Any:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException passes FastAPI's body parsing untouched and becomes the JSON 413
                    raise HTTPException(413, _too_large(self.max_bytes))
            return message

        await self.app(scope, counted_receive, send)
