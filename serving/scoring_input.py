"""Scoring request bodies read column by column: ``ScoreRequest``'s rules without a Python object per session.

Validating 10,000 sessions as 10,000 pydantic models costs more than scoring them. Here the JSON is parsed
once (pydantic-core), the envelope and field names are checked, and each field is validated as one list by
the very type and constraints ``SessionRecord`` declares for it. A body is accepted exactly when
``ScoreRequest`` accepts it, with the same values and pydantic's messages, located as FastAPI locates body
errors (``body.sessions.<i>.<field>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain, repeat
from operator import itemgetter
from typing import Annotated, Any

import pydantic_core
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from serving.schemas import MAX_SCORE_BATCH, SessionRecord

MAX_REPORTED_ERRORS = 50
SESSION_FIELDS: tuple[str, ...] = tuple(SessionRecord.model_fields)
_FIELD_SET = frozenset(SESSION_FIELDS)
_BODY = "body"


class _Envelope(BaseModel):
    """``ScoreRequest`` with its sessions left unvalidated."""

    model_config = ConfigDict(extra="forbid")

    sessions: list[Any] = Field(min_length=1, max_length=MAX_SCORE_BATCH)


@dataclass(frozen=True)
class SessionColumns:
    """Validated sessions as columns: field → one value per session, for the fields any session sent."""

    columns: dict[str, list[Any]]
    n_rows: int


@cache
def _column_adapters() -> dict[str, TypeAdapter[list[Any]]]:
    """One adapter per field: a list of the field's type with the field's constraints."""
    adapters: dict[str, TypeAdapter[list[Any]]] = {}
    for name, info in SessionRecord.model_fields.items():
        item: Any = Annotated[(info.annotation, *info.metadata)] if info.metadata else info.annotation
        adapters[name] = TypeAdapter(list[item])
    return adapters


def _errors(errors: list[ErrorDetails], prefix: tuple[str | int, ...]) -> list[dict[str, Any]]:
    return [{"loc": (*prefix, *e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]


def _invalid(errors: list[dict[str, Any]]) -> RequestValidationError:
    return RequestValidationError(errors[:MAX_REPORTED_ERRORS])


def read_score_body(body: bytes) -> SessionColumns:
    """The sessions of a ``POST /v1/score`` body; ``RequestValidationError`` (a 422) for a bad one."""
    try:
        payload = pydantic_core.from_json(body, allow_inf_nan=False)
    except ValueError as exc:
        reason = str(exc)
        if b"NaN" in body or b"Infinity" in body:
            reason += "; NaN and Infinity are not numbers in JSON: send null for a missing value"
        error = {
            "loc": (_BODY,),
            "msg": f"JSON decode error: {reason}",
            "type": "json_invalid",
            "ctx": {"error": reason},
        }
        raise _invalid([error]) from exc
    return session_columns(payload)


def session_columns(payload: Any) -> SessionColumns:
    """Validated columns of a parsed body ``{"sessions": [record, …]}``."""
    if not isinstance(payload, dict):
        shape = 'Input should be an object: {"sessions": [session, …]}'
        raise _invalid([{"loc": (_BODY,), "msg": shape, "type": "dict_type"}])
    try:
        rows = _Envelope.model_validate(payload).sessions
    except ValidationError as exc:
        raise _invalid(_errors(exc.errors(), (_BODY,))) from exc
    if set(map(type, rows)) != {dict}:
        raise _invalid(_row_errors(rows))  # the sessions in question, validated one by one, say what is wrong
    present = set(chain.from_iterable(rows))
    if not present <= _FIELD_SET:
        raise _invalid(_row_errors(rows))
    names = [name for name in SESSION_FIELDS if name in present]
    columns: dict[str, Any] = dict(zip(names, _transpose(rows, names), strict=True))
    errors: list[tuple[int, int, dict[str, Any]]] = []
    adapters = _column_adapters()
    for position, name in enumerate(names):
        try:
            columns[name] = adapters[name].validate_python(columns[name])
        except ValidationError as exc:
            for error in exc.errors():
                row = int(error["loc"][0])
                located = {"loc": (_BODY, "sessions", row, name), "msg": error["msg"], "type": error["type"]}
                errors.append((row, position, located))
    if errors:
        raise _invalid([error for _, _, error in sorted(errors, key=lambda e: (e[0], e[1]))])
    return SessionColumns(columns, len(rows))


def _transpose(rows: list[dict[str, Any]], names: list[str]) -> list[Sequence[Any]]:
    """The values of each field in ``names``, one per row (None where a row lacks the field)."""
    if set(map(len, rows)) == {len(names)}:  # every row has every field
        return [list(map(itemgetter(name), rows)) for name in names]
    return [list(map(dict.get, rows, repeat(name))) for name in names]


def _row_errors(rows: list[Any]) -> list[dict[str, Any]]:
    errors: list[dict[str, Any]] = []
    for row, record in enumerate(rows):
        if type(record) is dict and _FIELD_SET.issuperset(record):
            continue
        try:
            SessionRecord.model_validate(record)
        except ValidationError as exc:
            errors.extend(_errors(exc.errors(), (_BODY, "sessions", row)))
        if len(errors) >= MAX_REPORTED_ERRORS:
            break
    return errors
