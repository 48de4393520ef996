"""Dashboard routes: ``/`` (the dashboard), sign-in and sign-out, its static files, and two data endpoints."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from core.apikeys import KeyKind
from core.errors import Forbidden, NotFound, Unauthorized
from serving.answers import DailyTrendOut, ModelHealthOut
from serving.dashboard.model_health import model_health
from serving.dashboard.pages import PAGE_HEADERS, STATIC_TYPES, dashboard_page, sign_in_page, static_file
from serving.dashboard.sign_in import same_origin, signer_of
from serving.dashboard.trend import daily_trend
from serving.deps import RuntimeDep, TenantDep
from serving.errors import error_responses
from serving.query_params import DayParam, day_query
from serving.request_body import read_form
from serving.runtime import ServiceRuntime
from strategy.sessions import load_sessions_with

router = APIRouter(tags=["dashboard"])
SIGNED_OUT = "You are signed out."
WRONG_KEY = "That API key was not accepted: check it and try again (it starts with xmo_api_)."


def _html(page: str, status_code: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status_code, headers=PAGE_HEADERS)


def _redirect(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303, headers={"Cache-Control": "no-store"})


def _signed_in_client(request: Request, runtime: ServiceRuntime) -> str | None:
    token = request.cookies.get(runtime.settings.dashboard_cookie_name)
    if not token:
        return None
    session = signer_of(request, runtime.settings).verify(runtime.tenants, token)
    return session.client_id if session else None


def _forget_cookie(response: Response, request: Request, runtime: ServiceRuntime) -> None:
    response.delete_cookie(
        runtime.settings.dashboard_cookie_name,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@router.get("/", include_in_schema=False)
async def home(request: Request, runtime: RuntimeDep) -> Response:
    """The dashboard when signed in, else the sign-in page."""
    client_id = await asyncio.to_thread(_signed_in_client, request, runtime)
    if client_id is None:
        response: Response = _redirect("/sign-in")
        if request.cookies.get(runtime.settings.dashboard_cookie_name):
            _forget_cookie(response, request, runtime)
        return response
    client = await asyncio.to_thread(runtime.tenants.get_client, client_id)
    return _html(dashboard_page(client.id, client.name, getattr(client, "currency", None)))


@router.get("/sign-in", include_in_schema=False)
async def sign_in_form(request: Request, runtime: RuntimeDep, signed_out: bool = False) -> Response:
    """The sign-in form (the dashboard when already signed in)."""
    if await asyncio.to_thread(_signed_in_client, request, runtime):
        return _redirect("/")
    return _html(sign_in_page(SIGNED_OUT if signed_out else ""))


@router.post("/sign-in", include_in_schema=False)
async def sign_in(request: Request, runtime: RuntimeDep) -> Response:
    """Check the API key; on success set the session cookie and go to the dashboard."""
    if not same_origin(request, required=False):
        return _html(sign_in_page("Sign in from this site's own sign-in page.", error=True), 403)
    key = (await read_form(request, "sign-in")).get("api_key", "").strip()
    if not key:
        return _html(sign_in_page("Enter your API key.", error=True), 400)
    try:
        principal = await asyncio.to_thread(runtime.tenants.authenticate, key, KeyKind.API)
    except (Unauthorized, Forbidden):
        return _html(sign_in_page(WRONG_KEY, error=True), 401)
    assert principal.client_id is not None
    signer = signer_of(request, runtime.settings)
    token, _ = signer.issue(principal.client_id, key)
    response = _redirect("/")
    response.set_cookie(
        runtime.settings.dashboard_cookie_name,
        token,
        max_age=signer.ttl_s,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/sign-out", include_in_schema=False)
async def sign_out(request: Request, runtime: RuntimeDep) -> Response:
    """End the session: the cookie is cleared and its token refused from now on."""
    if not same_origin(request, required=False):
        raise Forbidden("sign out from the dashboard's own page")
    token = request.cookies.get(runtime.settings.dashboard_cookie_name)
    if token:
        signer_of(request, runtime.settings).revoke(token)
    response = _redirect("/sign-in?signed_out=true")
    _forget_cookie(response, request, runtime)
    return response


@router.get("/dashboard/static/{name:path}", include_in_schema=False)
async def static(name: str) -> Response:
    """The dashboard's scripts, style sheet and vendored chart library (served from the package: works offline)."""
    try:
        content = static_file(name)
    except KeyError:
        raise NotFound(f"no dashboard file {name!r}") from None
    return Response(
        content,
        media_type=STATIC_TYPES[name],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@router.get(
    "/dashboard/api/trend",
    response_model=DailyTrendOut,
    response_model_exclude_unset=True,
    responses=error_responses(400, 409, e400="since after until", e409="No sessions in the window yet"),
)
async def trend(
    runtime: RuntimeDep,
    client_id: TenantDep,
    since: Annotated[DayParam, day_query("First day, UTC, inclusive")] = None,
    until: Annotated[DayParam, day_query("Last day, UTC, inclusive")] = None,
) -> dict[str, Any]:
    """Sessions and conversions per day (the effectiveness report's days and period), for the trend chart."""
    client = runtime.tenants.get_client(client_id)

    def job() -> dict[str, Any]:
        sessions = load_sessions_with(runtime.settings, client, runtime.sessions.sessions)
        return {"client_id": client.id, **daily_trend(sessions, since, until)}

    return await asyncio.to_thread(job)


@router.get("/dashboard/api/model-health", response_model=ModelHealthOut, response_model_exclude_unset=True)
async def health_of_model(runtime: RuntimeDep, client_id: TenantDep) -> dict[str, Any]:
    """The champion the caller is scored with: version, test AUC, log loss, ECE and calibration table."""
    loaded = runtime.models.get(client_id)
    return await asyncio.to_thread(model_health, runtime.models.client, client_id, loaded)
