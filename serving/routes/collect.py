"""Collection endpoints: the 1x1 pixel (``GET /t.gif``)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from fastapi import APIRouter, Request, Response

from serving.errors import error_responses
from serving.query_params import ParamSpec, openapi_parameters, parse_query, query_dict
from serving.request_body import parse_event_time
from serving.runtime import ServiceRuntime
from serving.visitors import NO_STORE, browser_hit, read_signals, read_visitor, remember_visitor
from tracking.admission import backdating_drop
from tracking.events import EventType, HitSource

router = APIRouter(tags=["collect"])

# A transparent 1x1 GIF (43 bytes).
PIXEL_GIF = (
    b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
    b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"
)


def _bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token else None


def _may_backdate(runtime: ServiceRuntime, request: Request, client_id: str | None) -> bool:
    """Hits older than 24 h are history: only the client's own API key may send them (like Matomo's cdt)."""
    token = _bearer_token(request)
    if client_id is None or token is None:
        return False
    return runtime.collector.policies.client_for_api_key(token) == client_id


PIXEL_PARAMS: tuple[ParamSpec, ...] = (
    ParamSpec("k", "Site key of the client", required=True, max_length=128),
    ParamSpec(
        "e", "Event type", kind="choice", choices=tuple(t.value for t in EventType), default=EventType.PAGEVIEW.value
    ),
    ParamSpec("url", "Page URL (defaults to the Referer header)", max_length=2048),
    ParamSpec("ref", "The page's referrer (document.referrer)", max_length=2048),
    ParamSpec("utm_source", "Campaign source (also read from url)"),
    ParamSpec("utm_medium", "Campaign medium (also read from url)"),
    ParamSpec("utm_campaign", "Campaign name (also read from url)"),
    ParamSpec("utm_content", "Campaign content (also read from url)"),
    ParamSpec("utm_term", "Campaign term (also read from url)"),
    ParamSpec("cid", "Campaign id (also read from url)"),
    ParamSpec("crid", "Creative id (also read from url)"),
    ParamSpec("goal", "Goal name (purchase, enquiry, registration, …)"),
    ParamSpec("value", "Goal value", kind="number", minimum=0, maximum=1e9),
    ParamSpec("currency", "ISO 4217 currency of value", max_length=3, pattern=r"[A-Z]{3}"),
    ParamSpec("eid", "Client event id, for deduplication of retries", max_length=128),
    ParamSpec(
        "uid",
        "Member id (personal: kept only as a keyed pseudonym, with consent=1 and the client's collect_pii switch)",
    ),
    ParamSpec("em", "Email (personal: as uid)", max_length=320),
    ParamSpec("consent", "1 when the user consented to personal identifiers", kind="flag", default=False),
    ParamSpec("tz", "Browser time zone (IANA), stored as region", max_length=64),
    ParamSpec(
        "ts",
        "Event time (epoch ms or ISO 8601); older than 24 h needs the client's API key as a Bearer token",
        max_length=40,
    ),
    ParamSpec("send_image", "0 answers 204 instead of the GIF", kind="flag", default=True),
    ParamSpec(
        "debug",
        "1 answers why the hit was kept or dropped in the X-Xmo-Hit header (a reason, never personal data)",
        kind="flag",
        default=False,
    ),
)
HIT_HEADER = "X-Xmo-Hit"
HOLDOUT_HEADER = "X-Xmo-Holdout"  # the running visitor holdouts that hold this cookie out, comma-separated


@router.get(
    "/t.gif",
    summary="Tracking pixel",
    response_class=Response,
    openapi_extra=openapi_parameters(PIXEL_PARAMS),
    responses={
        200: {"content": {"image/gif": {}}, "description": "A 1x1 transparent GIF"},
        204: {"description": "No image (send_image=0)"},
        **error_responses(400, e400="A parameter is missing or malformed"),
    },
)
async def pixel(request: Request) -> Response:
    """Record a page view, click, goal or custom event and answer a 1x1 GIF."""
    return await record_pixel(request)


async def record_pixel(request: Request) -> Response:
    """The pixel itself (also answered by ``serving.fastpath`` ahead of FastAPI's routing).

    ``HEAD`` validates the parameters and answers the same headers, but records nothing and sets no cookie.
    """
    runtime: ServiceRuntime = request.app.state.runtime
    q = parse_query(PIXEL_PARAMS, query_dict(request.scope["query_string"]))
    now = datetime.now(UTC)
    event_time = parse_event_time(q["ts"]) or now
    send_image = q["send_image"]
    if request.method == "HEAD":  # a link checker or a prefetch: the GIF's headers, no hit and no cookie
        return _pixel_response(send_image)
    settings = runtime.settings
    policies = runtime.collector.policies
    client_id = policies.client_for_site_key(q["k"])
    signals = read_signals(request, settings)
    visitor = read_visitor(request, settings)

    backdated = backdating_drop(event_time, now, may_backdate=_may_backdate(runtime, request, client_id))
    outcome = "accepted"
    if backdated is not None:
        runtime.collector.drop(backdated)
        outcome = f"dropped: {backdated.value}"
    else:
        hit = browser_hit(
            request,
            client_id,
            visitor,
            signals,
            event_id=q["eid"],
            event_type=q["e"],
            ts=event_time,
            url=q["url"] or request.headers.get("referer"),
            referrer=q["ref"],
            utm_source=q["utm_source"],
            utm_medium=q["utm_medium"],
            utm_campaign=q["utm_campaign"],
            utm_content=q["utm_content"],
            utm_term=q["utm_term"],
            campaign_id=q["cid"],
            creative_id=q["crid"],
            goal=q["goal"],
            value=q["value"],
            currency=q["currency"],
            email=q["em"],
            member_id=q["uid"],
            consent=q["consent"],
            region=q["tz"],
            source=HitSource.PIXEL.value,
        )
        if q["debug"]:  # the same edge and spool, without the group commit, so the answer can say what happened
            result = await asyncio.to_thread(runtime.collector.ingest, [hit])
            outcome = "accepted" if result.accepted else f"dropped: {next(iter(result.drops)).value}"
        else:
            await runtime.committer.submit(hit)

    response = _pixel_response(send_image)
    if q["debug"]:
        response.headers[HIT_HEADER] = outcome
    policy = policies.policy(client_id) if client_id else None
    remember_visitor(response, request, settings, visitor, policy, signals)
    if client_id is not None and not signals.opted_out(policy):  # cached: no file read per hit
        held_out = runtime.holdouts.flags(client_id, visitor.id, now.date())
        if held_out:
            response.headers[HOLDOUT_HEADER] = ", ".join(held_out)
    return response


def _pixel_response(send_image: bool) -> Response:
    """The GIF (or 204 without it), never cached."""
    return Response(
        content=PIXEL_GIF if send_image else b"",
        status_code=200 if send_image else 204,
        media_type="image/gif" if send_image else None,
        headers=NO_STORE,
    )
