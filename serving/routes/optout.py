"""Opt-out (``/optout``): a page and endpoints that set or clear the opt-out cookie; counted, never stored."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel

from core.errors import Forbidden
from core.settings import Settings
from serving.deps import RuntimeDep
from serving.errors import error_responses
from serving.optout_page import PAGE_HEADERS, render_optout_page
from serving.request_body import FORM_BODY_BYTES, read_form
from serving.runtime import ServiceRuntime
from tracking.links import InvalidDestination, check_destination

router = APIRouter(tags=["privacy"])

# Browsers keep a cookie at most 400 days; the opt-out holds no personal data, so it lives that long.
OPTOUT_MAX_AGE_S = 400 * 86400
_RELATIVE = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")


class OptoutState(BaseModel):
    """Whether this browser is opted out (cookie), and whether it sends Global Privacy Control."""

    opted_out: bool
    gpc: bool


def safe_return_url(value: str | None, request: Request, runtime: ServiceRuntime) -> str | None:
    """``value`` if it is a relative path or an http(s) URL on some client's allowed domain, else None."""
    if not value:
        return None
    if _RELATIVE.fullmatch(value):
        return value
    try:
        host = check_destination(value)
    except InvalidDestination:
        return None
    return value if runtime.domains.any_client_allows(host) else None


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


def _is_opted_out(request: Request, settings: Settings) -> bool:
    return request.cookies.get(settings.optout_cookie_name) == "1"


def _same_origin(request: Request) -> bool:
    """Whether a browser request comes from this service's own page (requests without the headers pass)."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        return fetch_site in ("same-origin", "none")
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _answer(request: Request, runtime: ServiceRuntime, opted_out: bool, return_url: str | None) -> Response:
    gpc = request.headers.get("sec-gpc", "").strip() == "1"
    if _wants_json(request):
        return JSONResponse(
            OptoutState(opted_out=opted_out, gpc=gpc).model_dump(), headers={"Cache-Control": "no-store"}
        )
    page = render_optout_page(opted_out=opted_out, gpc=gpc, return_url=safe_return_url(return_url, request, runtime))
    return HTMLResponse(page, headers=PAGE_HEADERS)


def _set_opted_out(response: Response, request: Request, settings: Settings, opted_out: bool) -> None:
    """Set the opt-out cookie and delete the visitor id, or clear the opt-out cookie."""
    secure = request.url.scheme == "https"
    if opted_out:
        response.set_cookie(
            settings.optout_cookie_name,
            "1",
            max_age=OPTOUT_MAX_AGE_S,
            domain=settings.cookie_domain,
            path="/",
            samesite="lax",
            httponly=True,
            secure=secure,
        )
        response.delete_cookie(
            settings.cookie_name, domain=settings.cookie_domain, path="/", samesite="lax", httponly=True, secure=secure
        )
    else:
        response.delete_cookie(
            settings.optout_cookie_name,
            domain=settings.cookie_domain,
            path="/",
            samesite="lax",
            httponly=True,
            secure=secure,
        )


def _change(request: Request, runtime: ServiceRuntime, opted_out: bool, return_url: str | None) -> Response:
    was_opted_out = _is_opted_out(request, runtime.settings)
    if opted_out != was_opted_out:
        runtime.metrics.optouts.labels(action="opt_out" if opted_out else "opt_in").inc()
    response = _answer(request, runtime, opted_out, return_url)
    _set_opted_out(response, request, runtime.settings, opted_out)
    return response


_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The opt-out page, or the state as JSON with `Accept: application/json`",
        "content": {"application/json": {"schema": OptoutState.model_json_schema()}},
    }
}
_CHANGE_RESPONSES = {
    **_RESPONSES,
    **error_responses(
        403, 413, e403="Opting back in from another site's page", e413=f"A form over {FORM_BODY_BYTES} bytes"
    ),
}


@router.get("/optout", response_class=HTMLResponse, responses=_RESPONSES)
async def optout_page(request: Request, runtime: RuntimeDep) -> Response:
    """The opt-out page: the current state, what xmo records, and a button to opt out (or back in)."""
    return _answer(request, runtime, _is_opted_out(request, runtime.settings), request.query_params.get("return"))


@router.post("/optout", response_class=HTMLResponse, responses=_CHANGE_RESPONSES)
async def opt_out(request: Request, runtime: RuntimeDep) -> Response:
    """Opt this browser out (form field ``choice=in`` from the page opts back in); deletes the visitor cookie."""
    form = await read_form(request, "opt-out")
    return_url = form.get("return") or request.query_params.get("return")
    if form.get("choice") == "in":
        if not _same_origin(request):
            raise Forbidden("opting back in is possible only from the opt-out page itself")
        return _change(request, runtime, False, return_url)
    return _change(request, runtime, True, return_url)


@router.delete("/optout", response_class=HTMLResponse, responses=_CHANGE_RESPONSES)
async def opt_in(request: Request, runtime: RuntimeDep) -> Response:
    """Clear the opt-out cookie: this browser is counted again."""
    if not _same_origin(request):
        raise Forbidden("opting back in is possible only from the opt-out page itself")
    return _change(request, runtime, False, request.query_params.get("return"))
