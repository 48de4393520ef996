"""Query parameters: hand-parsed ones for the hot collection endpoints, documented from the same specs,
and the FastAPI-validated day parameters the strategy routes share.

FastAPI's per-parameter validation costs more than the whole pixel; these endpoints read
``request.query_params`` through ``parse_query`` and publish the same specs in OpenAPI.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import Query
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, WithJsonSchema

from core.errors import InvalidInput
from tracking.rawhits import decimal_number

Kind = Literal["text", "number", "flag", "choice"]
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True)
class ParamSpec:
    """One query parameter: how to read it and how to document it."""

    name: str
    description: str
    kind: Kind = "text"
    required: bool = False
    max_length: int = 200
    pattern: str | None = None
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    default: Any = None

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI parameter object."""
        schema: dict[str, Any]
        if self.kind == "number":
            schema = {"type": "number"}
            if self.minimum is not None:
                schema["minimum"] = self.minimum
            if self.maximum is not None:
                schema["maximum"] = self.maximum
        elif self.kind == "flag":
            schema = {"type": "boolean"}
        elif self.kind == "choice":
            schema = {"type": "string", "enum": list(self.choices)}
        else:
            schema = {"type": "string", "maxLength": self.max_length}
            if self.pattern:
                schema["pattern"] = self.pattern
        if self.default is not None:
            schema["default"] = self.default
        return {
            "name": self.name,
            "in": "query",
            "required": self.required,
            "description": self.description,
            "schema": schema,
        }

    def parse(self, raw: str | None) -> Any:
        """The typed value of ``raw`` (the default when absent); ``InvalidInput`` names the parameter."""
        if raw is not None and "\ufffd" in raw:
            raise InvalidInput(f"query parameter {self.name!r} is not valid UTF-8")
        if raw is None:
            if self.required:
                raise InvalidInput(f"query parameter {self.name!r} is required")
            return self.default
        if self.kind == "flag":
            lowered = raw.strip().lower()
            if lowered in _TRUE:
                return True
            if lowered in _FALSE:
                return False
            raise InvalidInput(f"query parameter {self.name!r} must be 0 or 1")
        if self.kind == "number":
            number = decimal_number(raw)
            if number is None:  # float() would also read 1_000, nan, inf and other scripts' digits
                raise InvalidInput(f"query parameter {self.name!r} must be a number such as 59.9")
            if (
                not math.isfinite(number)
                or (self.minimum is not None and number < self.minimum)
                or (self.maximum is not None and number > self.maximum)
            ):
                raise InvalidInput(f"query parameter {self.name!r} is out of range [{self.minimum}, {self.maximum}]")
            return number
        if self.kind == "choice":
            if raw not in self.choices:
                raise InvalidInput(f"query parameter {self.name!r} must be one of {', '.join(self.choices)}")
            return raw
        if len(raw) > self.max_length:
            raise InvalidInput(f"query parameter {self.name!r} is longer than {self.max_length} characters")
        if self.pattern and not re.fullmatch(self.pattern, raw):
            raise InvalidInput(f"query parameter {self.name!r} does not match {self.pattern}")
        return raw or None


def parse_query(specs: Sequence[ParamSpec], params: Mapping[str, str]) -> dict[str, Any]:
    """Every spec's value from ``params`` (unknown parameters are ignored, as browsers add their own)."""
    return {spec.name: spec.parse(params.get(spec.name)) for spec in specs}


def query_dict(query_string: bytes) -> dict[str, str]:
    """A raw query string as a dict (the first value of a repeated name wins), cheaper than Starlette's.

    Bytes that are not UTF-8, raw or percent-encoded, become U+FFFD, which ``ParamSpec.parse`` refuses.
    """
    params: dict[str, str] = {}
    for name, value in parse_qsl(
        query_string.decode("utf-8", "replace"), keep_blank_values=True, encoding="utf-8", errors="replace"
    ):
        params.setdefault(name, value)
    return params


def openapi_parameters(specs: Sequence[ParamSpec]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose parameters these specs describe."""
    return {"parameters": [spec.openapi() for spec in specs]}


# FastAPI-validated parameters shared by the strategy routes ------------------------------------------------------
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2199, 12, 31)


_DAY_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")
# The days check_day allows, as the OpenAPI document states them: JSON Schema bounds no dates, a pattern does.
DAY_PATTERN = r"^(19[7-9][0-9]|2[01][0-9]{2})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"
_DAY_RULE = f"a day as YYYY-MM-DD between {EARLIEST_DAY} and {LATEST_DAY}"
# RFC 3339, as OpenAPI's date-time format means it: a date, a time with seconds, and a zone.
_TIME_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,6})?([Zz]|[+-]\d{2}:\d{2})")


def day_text(value: Any) -> Any:
    """Only ``YYYY-MM-DD`` text passes on to be read as a date (pydantic would also read ``0`` as 1970-01-01)."""
    if isinstance(value, str) and not _DAY_TEXT.fullmatch(value):
        raise ValueError(_DAY_RULE)
    return value


def any_day_text(value: Any) -> Any:
    """As ``day_text``, for a day of any year (deleting stored rows may name one an import would refuse)."""
    if isinstance(value, str) and not _DAY_TEXT.fullmatch(value):
        raise ValueError("a day as YYYY-MM-DD")
    return value


def check_day(day: date | None) -> date | None:
    """A report day within what the lake's timestamps can hold (a ValueError becomes a 422 naming it)."""
    if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
        raise ValueError(_DAY_RULE)
    return day


def time_text(value: Any) -> Any:
    """Only RFC 3339 text passes on to be read as a time (pydantic would also read ``0`` as Unix time)."""
    if isinstance(value, str) and not _TIME_TEXT.fullmatch(value):
        raise ValueError("a time as RFC 3339 with seconds and a zone, e.g. 2026-11-01T00:00:00Z")
    return value


def day_query(description: str) -> Any:
    """``Query`` of an optional YYYY-MM-DD day; with ``DayParam`` it refuses days outside the lake's range."""
    return Query(description=f"{description} (YYYY-MM-DD, {EARLIEST_DAY.year}–{LATEST_DAY.year})")


DayParam = Annotated[
    date | None,
    BeforeValidator(day_text),
    AfterValidator(check_day),
    WithJsonSchema({"type": "string", "format": "date", "pattern": DAY_PATTERN}),
]
AnyDayParam = Annotated[
    date | None, BeforeValidator(any_day_text), WithJsonSchema({"type": "string", "format": "date"})
]
TimeParam = Annotated[
    AwareDatetime | None, BeforeValidator(time_text), WithJsonSchema({"type": "string", "format": "date-time"})
]
