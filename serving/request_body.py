"""How a route reads what a request sends: content types, bodies within their limits, forms, tables, event times.

Every hand-read body goes through :func:`read_body`, which refuses more than its limit whatever
``Content-Length`` claims. The limits live here, one per kind of body, so the documents and the checks agree.
JSON itself is parsed by :mod:`serving.json_body`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import pandas as pd
from fastapi import Request

from core.errors import InvalidInput, TooLarge
from serving.errors import InvalidTimestamp, MalformedBody, UnsupportedMediaType
from serving.json_body import parse_json
from tracking.edge import EARLIEST_EVENT_TIME
from tracking.table_files import csv_frame, json_rows_frame

EVENTS_BODY_BYTES = 1 << 20  # 1 MiB: a batch of POST /v1/events
TABLE_BODY_BYTES = 4 << 20  # 4 MiB: a spend or KPI import, about 50,000 CSV rows
TABLE_MAX_ROWS = 50_000
FORM_BODY_BYTES = 4096  # the sign-in and opt-out forms
_MAX_EPOCH_MS = 10**15
_EPOCH_MS = re.compile(r"[0-9]{1,15}")  # ASCII digits only (\d would also take other scripts' digits)


def media_type(request: Request) -> str:
    """The request's media type, lowercase, without parameters (``""`` when there is none)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def require_json(request: Request, advice: str) -> None:
    """Refuse (415, with ``advice``) a body that is not ``application/json`` in UTF-8."""
    kind, *params = request.headers.get("content-type", "").split(";")
    options = dict(p.strip().lower().partition("=")[::2] for p in params)
    charset = options.get("charset", "utf-8").strip('"')
    if kind.strip().lower() != "application/json" or charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(advice)


async def read_body(request: Request, limit: int, advice: str = "send smaller batches") -> bytes:
    """The body, refusing (413) more than ``limit`` bytes whatever ``Content-Length`` claims."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"the body is larger than {limit:,} bytes; {advice}")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"the body is larger than {limit:,} bytes; {advice}")
    return bytes(body)


async def read_form(request: Request, what: str) -> dict[str, str]:
    """The fields of a small ``application/x-www-form-urlencoded`` form (empty for another content type)."""
    if media_type(request) != "application/x-www-form-urlencoded":
        return {}
    body = await read_body(request, FORM_BODY_BYTES, f"the {what} form has at most {FORM_BODY_BYTES} bytes")
    return dict(parse_qsl(body.decode("utf-8", "replace")))


async def read_table(
    request: Request, *, max_bytes: int = TABLE_BODY_BYTES, max_rows: int = TABLE_MAX_ROWS
) -> pd.DataFrame:
    """The rows of a ``{"rows": [...]}`` JSON body or a ``text/csv`` body, as a DataFrame.

    415 for another content type, 413 over ``max_bytes`` or ``max_rows``, 400 for bad UTF-8, JSON or CSV (JSON
    within the limits of :func:`serving.json_body.parse_json`: nesting, integer and number range).
    """
    kind = media_type(request)
    if kind not in ("application/json", "text/csv"):
        raise UnsupportedMediaType('send {"rows": [...]} as application/json, or a CSV file as text/csv')
    body = await read_body(request, max_bytes, "send smaller files")
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedBody("the body is not valid UTF-8") from exc
    if kind == "text/csv":
        if text.count("\n") > max_rows + 1:
            raise TooLarge(f"at most {max_rows:,} rows per request; send smaller files")
        return csv_frame(text)
    data = parse_json(text)
    if not isinstance(data, dict) or set(data) != {"rows"}:
        raise InvalidInput('the body must be an object {"rows": [...]}')
    if isinstance(data["rows"], list) and len(data["rows"]) > max_rows:
        raise TooLarge(f"at most {max_rows:,} rows per request; send smaller batches")
    return json_rows_frame(data["rows"])


def parse_event_time(value: str | None) -> datetime | None:
    """A query parameter's epoch milliseconds or ISO 8601 (with zone) → UTC datetime; None when absent.

    ``InvalidTimestamp`` for anything else, including times before 1970 and times that no UTC datetime can hold
    (``0001-01-01T00:00:00+14:00`` is in year 0 in UTC).
    """
    if value is None or value == "":
        return None
    try:
        if _EPOCH_MS.fullmatch(value):
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise InvalidTimestamp("ts: an ISO 8601 time needs a zone, e.g. 2026-01-31T12:00:00Z")
        parsed = parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise InvalidTimestamp(
            f"ts: {value!r} is neither epoch milliseconds nor an ISO 8601 time (years 1970-9999 in UTC)"
        ) from exc
    if parsed < EARLIEST_EVENT_TIME:
        raise InvalidTimestamp(f"ts: {value!r} is before 1970")
    return parsed


def parse_json_timestamp(value: Any) -> datetime | None:
    """A JSON value's epoch milliseconds (number or digits) or ISO 8601 with a zone → UTC datetime.

    None stays None; anything else raises ``ValueError`` (pydantic reports it as the field's error).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a timestamp is ISO 8601 with a zone or epoch milliseconds, not a boolean")
    if isinstance(value, int | float):
        if not 0 <= value <= _MAX_EPOCH_MS:  # NaN and infinities too
            raise ValueError("epoch milliseconds out of range")
        try:
            return datetime.fromtimestamp(value / 1000, UTC)
        except (ValueError, OverflowError, OSError):
            raise ValueError("epoch milliseconds past year 9999") from None
    if isinstance(value, str):
        try:
            return parse_event_time(value)
        except InvalidTimestamp as exc:
            raise ValueError(
                "a timestamp is ISO 8601 with a zone (e.g. 2026-01-31T12:00:00Z) or epoch ms, from 1970 to 9999 in UTC"
            ) from exc
    raise ValueError("a timestamp is ISO 8601 with a zone or epoch milliseconds")
