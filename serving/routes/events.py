"""Server-side events: ``POST /v1/events``, batches a client's own servers send with the site key.

A request is checked as a whole first (key, content type, size, JSON, shape); then every event is judged on
its own: a malformed event is dropped with a counted reason and the rest go through the edge like any hit.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, field_validator

from core.apikeys import KeyKind, kind_of
from core.errors import NotFound, TooLarge, Unauthorized
from serving.deps import RuntimeDep
from serving.errors import ErrorResponse, InvalidBatch
from serving.json_body import OutOfRange, parse_json
from serving.request_body import EVENTS_BODY_BYTES, parse_json_timestamp, read_body, require_json
from serving.runtime import ServiceRuntime
from tracking.admission import BatchAdmission
from tracking.edge import (
    CURRENCY_PATTERN,
    EVENT_ID_PATTERN,
    MAX_VALUE,
    VISITOR_ID_PATTERN,
    DropReason,
    raw_frame,
)
from tracking.events import EventType, HitSource
from tracking.importer import KEY_PURPOSE as IMPORT_KEY_PURPOSE
from tracking.importer import KeyedIds
from tracking.rawhits import decimal_number

router = APIRouter(tags=["collect"])

MAX_EVENTS = 1000
MAX_ERRORS_SHOWN = 20
MAX_FOREIGN_VISITOR_ID = 256  # longer ids are refused, not hashed
_XMO_VISITOR_ID = re.compile(VISITOR_ID_PATTERN)

_site_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="SiteKey",
    description="The client's site key: `Authorization: Bearer xmo_site_…`",
)
SiteCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_site_bearer)]

_TIMESTAMP_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "integer", "minimum": 0, "description": "epoch milliseconds"},
        {"type": "null"},
    ]
}
_Short = Annotated[str | None, Field(max_length=200)]
_Long = Annotated[str | None, Field(max_length=2048)]

EXAMPLE_EVENT: dict[str, Any] = {
    "event_type": "goal",
    "timestamp": "2026-01-31T12:00:00Z",
    "visitor_id": "3f2b9c0e8a7d4c1b9e6f5a4d3c2b1a09",
    "event_id": "order-10045",
    "url": "https://shop.example.com/checkout/done?utm_source=newsletter",
    "goal": "purchase",
    "value": 59.9,
    "currency": "EUR",
    "ip": "203.0.113.77",
    "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0",
}


class ServerEvent(BaseModel):
    """One event as a client's server reports it; personal fields pass the same edge steps as a pixel hit."""

    model_config = ConfigDict(
        extra="forbid", coerce_numbers_to_str=True, json_schema_extra={"examples": [EXAMPLE_EVENT]}
    )

    event_type: EventType = Field(description="pageview, click, goal or custom")
    visitor_id: str = Field(
        pattern=VISITOR_ID_PATTERN,
        description="The visitor's xmo cookie value, as the client's server read it (16–64 of A-Z a-z 0-9 _ -)",
    )
    timestamp: Annotated[datetime | None, WithJsonSchema(_TIMESTAMP_SCHEMA)] = Field(
        default=None,
        description="When it happened: ISO 8601 with a zone, or epoch milliseconds; default: when received. "
        "May be older than 24 h, not older than the client's retention, not more than 1 day ahead.",
    )
    event_id: str | None = Field(
        default=None, pattern=EVENT_ID_PATTERN, description="The client's id of the event, for dropping retries"
    )
    url: _Long = Field(default=None, description="Page URL; query parameters outside the allow-list are stripped")
    referrer: _Long = None
    utm_source: _Short = None
    utm_medium: _Short = None
    utm_campaign: _Short = None
    utm_content: _Short = None
    utm_term: _Short = None
    campaign_id: _Short = None
    creative_id: _Short = None
    goal: _Short = Field(default=None, description="Goal name (purchase, enquiry, …)")
    value: float | None = Field(default=None, ge=0, le=MAX_VALUE, allow_inf_nan=False)
    currency: str | None = Field(default=None, pattern=CURRENCY_PATTERN, description="ISO 4217 code of value")
    email: str | None = Field(
        default=None,
        max_length=320,
        description="Personal: kept only as a keyed pseudonym, with consent and the client's collect_pii switch",
    )
    member_id: str | None = Field(default=None, max_length=200, description="Personal: as email")
    consent: bool = Field(default=False, description="The visitor consented to personal identifiers")
    ip: str | None = Field(
        default=None, max_length=64, description="The visitor's IP address; truncated before anything is stored"
    )
    user_agent: str | None = Field(
        default=None, max_length=2048, description="The visitor's user agent; only parsed fields are stored"
    )
    region: str | None = Field(default=None, max_length=64, description="IANA time zone of the visitor")
    optout: bool = Field(default=False, description="The visitor carries xmo's opt-out cookie: the event is dropped")
    gpc: bool = Field(default=False, description="The visitor's browser sent Sec-GPC: 1: the event is dropped")
    dnt: bool = Field(
        default=False, description="The visitor's browser sent DNT: 1 (dropped where the client honours it)"
    )

    @field_validator("timestamp", mode="before")
    @classmethod
    def _parse_timestamp(cls, value: Any) -> datetime | None:
        return parse_json_timestamp(value)

    @field_validator("value", mode="before")
    @classmethod
    def _plain_number(cls, value: Any) -> Any:
        """A JSON number, or text of one written plainly (pydantic alone would read "1_000" and true)."""
        if isinstance(value, bool):
            raise ValueError("value is a number, not a boolean")
        if isinstance(value, str):
            number = decimal_number(value)
            if number is None:
                raise ValueError("value is a number such as 59.9")
            return number
        return value


class EventError(BaseModel):
    """Why one event of the batch was dropped before the edge."""

    index: int = Field(description="Position of the event in the array")
    reason: str
    field: str | None = None
    message: str


class EventsAccepted(BaseModel):
    """The batch is durable: what was received, accepted and dropped (by reason)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "received": 3,
                    "accepted": 2,
                    "dropped": {"invalid_visitor_id": 1},
                    "errors": [
                        {
                            "index": 1,
                            "reason": "invalid_visitor_id",
                            "field": "visitor_id",
                            "message": "String should match pattern '^[A-Za-z0-9_-]{16,64}$'",
                        }
                    ],
                }
            ]
        }
    )

    received: int
    accepted: int
    dropped: dict[str, int] = Field(description="Dropped events by reason (validation, privacy signals, bots, …)")
    errors: list[EventError] = Field(
        default_factory=list, description=f"The first {MAX_ERRORS_SHOWN} events dropped before the edge, and why"
    )


# whole-request checks -----------------------------------------------------------------------------
def client_for_site_key(runtime: ServiceRuntime, token: str | None) -> str:
    """The client a site key belongs to; ``Unauthorized`` (missing/unknown) or ``Forbidden`` (another kind)."""
    client_id = runtime.collector.policies.client_for_site_key(token)
    if client_id is not None:
        return client_id
    if token is not None and kind_of(token) not in (None, KeyKind.SITE):
        runtime.tenants.authenticate(token, KeyKind.SITE)  # raises Forbidden for a live key of another kind
    raise Unauthorized("missing or unknown site key: send Authorization: Bearer xmo_site_…")


def parse_batch(body: bytes) -> list[Any]:
    """The JSON array of a body (400 for bad UTF-8 or JSON, 422 for another shape, 413 over the limit)."""
    data = parse_json(body, mark_out_of_range=True)  # a number out of range drops its event, not the batch
    if not isinstance(data, list):
        raise InvalidBatch("the body must be a JSON array of event objects")
    if len(data) > MAX_EVENTS:
        raise TooLarge(f"{len(data):,} events in one batch; send at most {MAX_EVENTS:,}")
    return data


# per-event decisions ------------------------------------------------------------------------------
_REASON_OF_FIELD = {
    "event_type": DropReason.INVALID_EVENT_TYPE,
    "visitor_id": DropReason.INVALID_VISITOR_ID,
    "timestamp": DropReason.INVALID_TIMESTAMP,
    "value": DropReason.INVALID_VALUE,
}
_PRECEDENCE = [*_REASON_OF_FIELD.values(), DropReason.INVALID_FIELD]  # the edge's order


def _first_error(exc: ValidationError) -> tuple[str, str | None, str]:
    """The reason, field and message of the most telling error (in the edge's order of checks)."""
    found: list[tuple[int, str, str | None, str]] = []
    for error in exc.errors(include_input=False, include_url=False):
        name = str(error["loc"][0]) if error["loc"] else None
        reason = _REASON_OF_FIELD.get(name or "", DropReason.INVALID_FIELD)
        found.append((_PRECEDENCE.index(reason), reason.value, name, error["msg"]))
    _, reason_name, name, message = min(found, key=lambda f: f[0])
    return reason_name, name, message


def _number_out_of_range(item: dict[str, Any]) -> tuple[str, OutOfRange] | None:
    """The first field of an event that holds a number out of range, and the parser's note on it."""
    for name, value in item.items():
        if isinstance(value, OutOfRange):
            return name, value
    return None


@dataclass
class PreparedBatch:
    """Raw hits ready for the edge, and the events dropped on the way."""

    received: int
    hits: list[dict[str, Any]] = field(default_factory=list)
    dropped: Counter[str] = field(default_factory=Counter)
    errors: list[EventError] = field(default_factory=list)

    def drop(self, index: int, reason: str, name: str | None, message: str) -> None:
        self.dropped[reason] += 1
        if len(self.errors) < MAX_ERRORS_SHOWN:
            self.errors.append(EventError(index=index, reason=reason, field=name, message=message))


def raw_hit(event: ServerEvent, client_id: str, received_at: datetime) -> dict[str, Any]:
    """The edge's raw hit for one server event."""
    hit = event.model_dump(exclude={"timestamp", "event_type"})
    hit.update(
        client_id=client_id,
        event_type=event.event_type.value,
        ts=event.timestamp or received_at,
        source=HitSource.SERVER.value,
    )
    return hit


def prepare_batch(
    items: Sequence[Any],
    client_id: str,
    received_at: datetime,
    retention_days: int | None,
    visitor_ids: KeyedIds | None = None,
) -> PreparedBatch:
    """Validate each event; drop malformed ones, those past retention and repeated event ids, with reasons."""
    batch = PreparedBatch(received=len(items))
    admission = BatchAdmission(received_at, retention_days)
    for index, item in enumerate(items):
        if isinstance(item, dict) and (huge := _number_out_of_range(item)) is not None:
            name, problem = huge
            batch.drop(index, _REASON_OF_FIELD.get(name, DropReason.INVALID_FIELD).value, name, problem.message)
            continue
        mapped = _with_xmo_visitor_id(item, visitor_ids) if visitor_ids and isinstance(item, dict) else item
        try:
            event = ServerEvent.model_validate(mapped)
        except ValidationError as exc:
            batch.drop(index, *_first_error(exc))
            continue
        if (time_drop := admission.time_drop(event.timestamp)) is not None:
            reason, message = time_drop
            batch.drop(index, reason.value, "timestamp", message)
            continue
        if admission.repeated(event.event_id):
            batch.drop(index, DropReason.DUPLICATE.value, "event_id", "event_id repeated within the batch")
            continue
        batch.hits.append(raw_hit(event, client_id, received_at))
    return batch


def _with_xmo_visitor_id(item: dict[str, Any], visitor_ids: KeyedIds) -> dict[str, Any]:
    """The event with a visitor id that is not an xmo cookie value replaced by its keyed hash, as
    ``xmo import events`` maps it: the same id from either path is the same visitor."""
    given = item.get("visitor_id")
    if isinstance(given, int) and not isinstance(given, bool):
        given = str(given)
    if (
        not isinstance(given, str)
        or not given
        or len(given) > MAX_FOREIGN_VISITOR_ID
        or _XMO_VISITOR_ID.fullmatch(given)
    ):
        return item
    return {**item, "visitor_id": visitor_ids.digest("visitor", given)}


def _retention_days(runtime: ServiceRuntime, client_id: str) -> int | None:
    try:
        return runtime.tenants.get_client(client_id).retention_days
    except NotFound:  # purged since its key was checked: the edge drops the hits as unknown
        return None


def read_batch(runtime: ServiceRuntime, client_id: str, body: bytes, received_at: datetime) -> PreparedBatch:
    """Parse the body and judge each event (blocking: JSON, pydantic and one registry query)."""
    items = parse_batch(body)
    visitor_ids = KeyedIds(runtime.vault.derived_key(client_id, IMPORT_KEY_PURPOSE))
    return prepare_batch(items, client_id, received_at, _retention_days(runtime, client_id), visitor_ids)


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` substituted in place (OpenAPI cannot see pydantic's ``$defs``)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                siblings = {k: v for k, v in node.items() if k != "$ref"}
                return {**resolve(defs[ref.removeprefix("#/$defs/")]), **siblings}
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


def _event_schema() -> dict[str, Any]:
    """``ServerEvent``'s schema as a client sends it: a visitor id from elsewhere is accepted (and hashed)."""
    schema = _inline_refs(ServerEvent.model_json_schema())
    schema["properties"]["visitor_id"] = {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_FOREIGN_VISITOR_ID,
        "description": "The visitor's xmo cookie value; any other id is stored as its keyed hash (as an import)",
    }
    return schema


_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "description": f"A JSON array of at most {MAX_EVENTS:,} events, at most {EVENTS_BODY_BYTES:,} bytes.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "array",
                    "maxItems": MAX_EVENTS,
                    "items": _event_schema(),
                },
                "example": [
                    EXAMPLE_EVENT,
                    {
                        "event_type": "pageview",
                        "visitor_id": "3f2b9c0e8a7d4c1b9e6f5a4d3c2b1a09",
                        "timestamp": 1769860800000,
                    },
                ],
            }
        },
    }
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "The body is not UTF-8 JSON"},
    401: {"model": ErrorResponse, "description": "Missing or unknown site key"},
    403: {"model": ErrorResponse, "description": "A key of another kind"},
    413: {"model": ErrorResponse, "description": f"Over {EVENTS_BODY_BYTES:,} bytes or {MAX_EVENTS:,} events"},
    415: {"model": ErrorResponse, "description": "Not Content-Type: application/json"},
    422: {"model": ErrorResponse, "description": "The body is not a JSON array"},
}


@router.post(
    "/v1/events",
    summary="Server-side events",
    status_code=202,
    response_model=EventsAccepted,
    responses=_ERRORS,
    openapi_extra=_REQUEST_BODY,
)
async def post_events(request: Request, runtime: RuntimeDep, credentials: SiteCredentials) -> EventsAccepted:
    """Record a batch of events from the client's servers; answered once the accepted events are durable."""
    token = credentials.credentials if credentials else None
    client_id = await asyncio.to_thread(client_for_site_key, runtime, token)
    require_json(request, "send the events as Content-Type: application/json (UTF-8)")
    body = await read_body(request, EVENTS_BODY_BYTES)
    batch = await asyncio.to_thread(read_batch, runtime, client_id, body, datetime.now(UTC))
    for reason, n in batch.dropped.items():
        runtime.collector.drop(DropReason(reason), n)
    dropped = Counter(batch.dropped)
    accepted = 0
    if batch.hits:
        result = await asyncio.to_thread(runtime.collector.ingest, raw_frame(batch.hits))
        accepted = result.accepted
        dropped.update({reason.value: n for reason, n in result.drops.items()})
    return EventsAccepted(received=batch.received, accepted=accepted, dropped=dict(dropped), errors=batch.errors)
