"""Collection endpoints: the 1x1 pixel (``GET /t.gif``)."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from core.errors import XmoError
from serving.deps import RuntimeDep
from tracking.edge import VISITOR_ID_PATTERN, DropReason
from tracking.events import EventType, HitSource

router = APIRouter(tags=["collect"])

# A transparent 1x1 GIF (43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)
NO_STORE = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache"}
BACKDATE_LIMIT = timedelta(hours=24)
_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)

Text = Annotated[str | None, Query(max_length=2048)]
Short = Annotated[str | None, Query(max_length=200)]


def parse_event_time(value: str | None) -> datetime | None:
    """Epoch milliseconds or ISO 8601 (with zone) → UTC datetime; None when absent."""
    if value is None or value == "":
        return None
    try:
        if re.fullmatch(r"\d{1,15}", value):
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        parsed = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidTimestamp(f"ts: {value!r} is neither epoch milliseconds nor ISO 8601") from exc
    if parsed.tzinfo is None:
        raise InvalidTimestamp("ts: an ISO 8601 time needs a zone, e.g. 2026-01-31T12:00:00Z")
    return parsed.astimezone(UTC)


class InvalidTimestamp(XmoError):
    """A ``ts`` parameter that is not a time."""

    code = "invalid_timestamp"
    http_status = 400


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token else None


def _may_backdate(runtime: RuntimeDep, request: Request, client_id: str | None) -> bool:
    """Hits older than 24 h are history: only the client's own API key may send them (like Matomo's cdt)."""
    token = _bearer_token(request)
    if client_id is None or token is None:
        return False
    return runtime.collector.policies.client_for_api_key(token) == client_id


@router.get(
    "/t.gif",
    summary="Tracking pixel",
    response_class=Response,
    responses={
        200: {"content": {"image/gif": {}}, "description": "A 1x1 transparent GIF"},
        204: {"description": "No image (send_image=0)"},
    },
)
async def pixel(
    request: Request,
    runtime: RuntimeDep,
    k: Annotated[str, Query(description="Site key of the client", max_length=128)],
    e: Annotated[EventType, Query(description="Event type")] = EventType.PAGEVIEW,
    url: Annotated[str | None, Query(description="Page URL (defaults to the Referer header)", max_length=2048)] = None,
    ref: Annotated[str | None, Query(description="The page's referrer (document.referrer)", max_length=2048)] = None,
    utm_source: Short = None,
    utm_medium: Short = None,
    utm_campaign: Short = None,
    utm_content: Short = None,
    utm_term: Short = None,
    cid: Annotated[str | None, Query(description="Campaign id", max_length=200)] = None,
    crid: Annotated[str | None, Query(description="Creative id", max_length=200)] = None,
    goal: Annotated[
        str | None, Query(description="Goal name (purchase, enquiry, registration, …)", max_length=200)
    ] = None,
    value: Annotated[float | None, Query(description="Goal value", ge=0, le=1e9)] = None,
    currency: Annotated[str | None, Query(description="ISO 4217 currency of value", pattern=r"^[A-Z]{3}$")] = None,
    eid: Annotated[
        str | None, Query(description="Client event id, for deduplication of retries", max_length=128)
    ] = None,
    uid: Annotated[
        str | None,
        Query(
            description="Member id (personal: kept only as a keyed pseudonym, with "
            "consent=1 and the client's collect_pii switch)",
            max_length=200,
        ),
    ] = None,
    em: Annotated[str | None, Query(description="Email (personal: as uid)", max_length=320)] = None,
    consent: Annotated[bool, Query(description="The user consented to personal identifiers")] = False,
    tz: Annotated[str | None, Query(description="Browser time zone (IANA), stored as region", max_length=64)] = None,
    ts: Annotated[
        str | None,
        Query(
            description="Event time (epoch ms or ISO 8601); older than 24 h needs the "
            "client's API key as a Bearer token",
            max_length=40,
        ),
    ] = None,
    send_image: Annotated[bool, Query(description="0 answers 204 instead of the GIF")] = True,
) -> Response:
    """Record a page view, click, goal or custom event and answer a 1x1 GIF."""
    settings = runtime.settings
    policies = runtime.collector.policies
    client_id = policies.client_for_site_key(k)
    now = datetime.now(UTC)
    event_time = parse_event_time(ts) or now
    cookies = request.cookies
    optout = cookies.get(settings.optout_cookie_name) == "1"
    gpc = request.headers.get("sec-gpc", "").strip() == "1"
    dnt = request.headers.get("dnt", "").strip() == "1"
    cookie_value = cookies.get(settings.cookie_name)
    new_visitor = cookie_value is None or not _VISITOR_ID.fullmatch(cookie_value)
    visitor_id: str = secrets.token_hex(16) if new_visitor or cookie_value is None else cookie_value

    if now - event_time > BACKDATE_LIMIT and not _may_backdate(runtime, request, client_id):
        runtime.collector.counters.count_drop(DropReason.INVALID_TIMESTAMP)
    else:
        hit: dict[str, Any] = {
            "client_id": client_id,
            "event_id": eid,
            "event_type": e.value,
            "ts": event_time,
            "visitor_id": visitor_id,
            "url": url or request.headers.get("referer"),
            "referrer": ref,
            "utm_source": utm_source,
            "utm_medium": utm_medium,
            "utm_campaign": utm_campaign,
            "utm_content": utm_content,
            "utm_term": utm_term,
            "campaign_id": cid,
            "creative_id": crid,
            "goal": goal,
            "value": value,
            "currency": currency,
            "email": em,
            "member_id": uid,
            "consent": consent,
            "ip": request.client.host if request.client else None,
            "user_agent": request.headers.get("user-agent"),
            "optout": optout,
            "gpc": gpc,
            "dnt": dnt,
            "region": tz,
            "source": HitSource.PIXEL.value,
        }
        await runtime.committer.submit(hit)

    response = Response(
        content=PIXEL_GIF if send_image else b"",
        status_code=200 if send_image else 204,
        media_type="image/gif" if send_image else None,
        headers=NO_STORE,
    )
    policy = policies.policy(client_id) if client_id else None
    signals_off = not (optout or gpc or (dnt and policy is not None and policy.honour_dnt))
    if new_visitor and policy is not None and signals_off:
        response.set_cookie(
            settings.cookie_name,
            visitor_id,
            max_age=settings.cookie_max_age_days * 86400,
            domain=settings.cookie_domain,
            path="/",
            samesite="lax",
            httponly=True,
            secure=request.url.scheme == "https",
        )
    return response
