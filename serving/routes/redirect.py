"""The click redirect (``GET /r``): record a click, then send the browser on to a trusted destination.

A link with a signature must verify (even to an allowed domain); one without must point to an allowed domain.
Opted-out and GPC visitors are redirected too, but their click is dropped (and counted) and they get no cookie.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from core.errors import InvalidInput
from core.layout import CLIENT_ID_PATTERN, check_client_id
from serving.deps import RuntimeDep
from serving.errors import UnknownLinkClient, error_responses
from serving.visitors import NO_STORE, browser_hit, read_signals, read_visitor, remember_visitor
from tracking.events import EventType, HitSource
from tracking.links import (
    LINK_KEY_PURPOSE,
    UntrustedDestination,
    check_destination,
    host_allowed,
    verify_link,
)

router = APIRouter(tags=["collect"])

CampaignField = Annotated[str | None, Query(max_length=200)]


@router.get(
    "/r",
    summary="Click redirect",
    response_class=Response,
    status_code=302,
    responses={
        302: {"description": "Redirect to the destination (the click is recorded first)"},
        **error_responses(400, e400="Unknown client, or a destination neither signed nor allow-listed"),
    },
)
async def click_redirect(
    request: Request,
    runtime: RuntimeDep,
    c: Annotated[
        str,
        Query(
            description="Client id (400 for an unknown one)",
            max_length=63,
            json_schema_extra={"pattern": CLIENT_ID_PATTERN.pattern},
        ),
    ],
    u: Annotated[str, Query(description="Destination URL (http or https)", max_length=8192)],
    s: Annotated[
        str | None, Query(description="Link signature (needed unless u is allow-listed)", max_length=64)
    ] = None,
    cid: Annotated[str | None, Query(description="Campaign id", max_length=200)] = None,
    crid: Annotated[str | None, Query(description="Creative id", max_length=200)] = None,
    utm_source: CampaignField = None,
    utm_medium: CampaignField = None,
    utm_campaign: CampaignField = None,
    utm_content: CampaignField = None,
    utm_term: CampaignField = None,
) -> Response:
    """Record a click on a tracked link and redirect to its signed or allow-listed destination."""
    try:
        client_id = check_client_id(c)
    except InvalidInput as exc:
        raise UnknownLinkClient(str(exc)) from exc
    allowed = runtime.domains.of(client_id)
    if allowed is None:
        raise UnknownLinkClient(f"unknown client {client_id!r}")
    host = check_destination(u)
    utm = {
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "utm_campaign": utm_campaign,
        "utm_content": utm_content,
        "utm_term": utm_term,
    }
    if s:
        key = runtime.vault.derived_key(client_id, LINK_KEY_PURPOSE)
        if not verify_link(key, client_id, u, s, cid, crid, **utm):
            raise UntrustedDestination("the link's signature does not match its client, destination and campaign")
    elif not host_allowed(host, allowed):
        raise UntrustedDestination(f"{host!r} is not an allowed domain of client {client_id!r}; sign the link")

    settings = runtime.settings
    signals = read_signals(request, settings)
    visitor = read_visitor(request, settings)
    hit = browser_hit(
        request,
        client_id,
        visitor,
        signals,
        event_type=EventType.CLICK.value,
        ts=datetime.now(UTC),
        url=u,
        referrer=request.headers.get("referer"),
        campaign_id=cid,
        creative_id=crid,
        **utm,
        source=HitSource.REDIRECT.value,
    )
    await runtime.committer.submit(hit)

    response = Response(status_code=302, headers={**NO_STORE, "Location": u})
    remember_visitor(response, request, settings, visitor, runtime.collector.policies.policy(client_id), signals)
    return response
