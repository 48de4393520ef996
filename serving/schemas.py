"""Request and response bodies of the API (separate from stored types)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

from features.definitions import EXAMPLE_SESSIONS

MAX_SCORE_BATCH = 10_000
MAX_TOP_CONTRIBUTIONS = 50
_EXAMPLE: dict[str, Any] = dict(EXAMPLE_SESSIONS[0])
_BATCH_EXAMPLE: dict[str, Any] = {
    "sessions": [{"row_id": f"order-line-{i}", **s} for i, s in enumerate(EXAMPLE_SESSIONS[:2])]
}
_COUNT_LIMIT = 10_000_000  # far beyond any real visitor; keeps every count a float64 exactly


class SessionRecord(BaseModel):
    """A raw session, as the feature pipeline builds it from the lake; every field is optional.

    Fields not listed here are refused (a session record never carries personal data such as an e-mail).
    ``started_at`` without an offset is read as UTC.
    """

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [_EXAMPLE]})

    started_at: datetime | None = None
    utm_source: str | None = Field(default=None, max_length=200)
    utm_medium: str | None = Field(default=None, max_length=200)
    utm_campaign: str | None = Field(default=None, max_length=200)
    utm_content: str | None = Field(default=None, max_length=200)
    utm_term: str | None = Field(default=None, max_length=200)
    campaign_id: str | None = Field(default=None, max_length=200)
    creative_id: str | None = Field(default=None, max_length=200)
    referrer_host: str | None = Field(default=None, max_length=253)
    landing_path: str | None = Field(default=None, max_length=2048)
    pageviews: int | None = Field(default=None, ge=0, le=100_000)
    clicks: int | None = Field(default=None, ge=0, le=100_000)
    events: int | None = Field(default=None, ge=0, le=100_000)
    duration_s: float | None = Field(default=None, ge=0, le=86_400 * 7, allow_inf_nan=False)
    browser_family: str | None = Field(default=None, max_length=100)
    browser_version: str | None = Field(default=None, max_length=50)
    os_family: str | None = Field(default=None, max_length=100)
    os_version: str | None = Field(default=None, max_length=50)
    device_class: str | None = Field(default=None, max_length=20)
    region: str | None = Field(default=None, max_length=64)
    visitor_session_number: int | None = Field(default=None, ge=1, le=_COUNT_LIMIT)
    prev_sessions: int | None = Field(default=None, ge=0, le=_COUNT_LIMIT)
    prev_conversions: int | None = Field(default=None, ge=0, le=_COUNT_LIMIT)
    days_since_last_session: float | None = Field(default=None, ge=0, le=100 * 366, allow_inf_nan=False)


ROW_ID = "row_id"
MAX_ROW_ID_LENGTH = 200
_INT64_MAX = 2**63 - 1
ROW_ID_DESCRIPTION = (
    "Optional: your own id for this session (a string of 1 to 200 characters, or an integer in the 64-bit range), "
    "returned unchanged beside its score. Not a model feature, and never logged or stored."
)


def _row_id(value: Any) -> str | int:
    """A caller's row id as given: a string of 1 to ``MAX_ROW_ID_LENGTH`` characters or a 64-bit integer."""
    if isinstance(value, str) and 1 <= len(value) <= MAX_ROW_ID_LENGTH:
        return value
    if isinstance(value, int) and not isinstance(value, bool) and -_INT64_MAX - 1 <= value <= _INT64_MAX:
        return value
    raise PydanticCustomError(
        "row_id_type",
        "Input should be a string of 1 to {max_length} characters or a 64-bit integer (a row id)",
        {"max_length": MAX_ROW_ID_LENGTH},
    )


RowId = Annotated[
    str | int,
    PlainValidator(_row_id),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1, "maxLength": MAX_ROW_ID_LENGTH},
                {"type": "integer", "minimum": -_INT64_MAX - 1, "maximum": _INT64_MAX},
            ],
            "description": ROW_ID_DESCRIPTION,
            "examples": ["order-line-17", 42],
        }
    ),
]


class SessionToScore(SessionRecord):
    """A session to score: the fields of a raw session, and optionally ``row_id``, the caller's own id for it."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{ROW_ID: "order-line-17", **_EXAMPLE}]},
    )

    row_id: RowId | None = None


class ScoreRequest(BaseModel):
    """One or more sessions to score (at most 10,000 per request)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [_BATCH_EXAMPLE]},
    )

    sessions: list[SessionToScore] = Field(min_length=1, max_length=MAX_SCORE_BATCH)


def _columns_example() -> dict[str, Any]:
    sessions = _BATCH_EXAMPLE["sessions"]
    names = [name for name in SessionToScore.model_fields if any(name in s for s in sessions)]
    return {"columns": {name: [s.get(name) for s in sessions] for name in names}}


def _document_columns(schema: dict[str, Any]) -> None:
    """Document ``columns`` as one optional list per ``SessionToScore`` field, and give an example."""
    fields = SessionToScore.model_json_schema()["properties"]
    lists = {
        name: {
            "type": "array",
            "items": {k: v for k, v in field.items() if k not in ("default", "title")},
            "minItems": 1,
            "maxItems": MAX_SCORE_BATCH,
        }
        for name, field in fields.items()
    }
    schema["properties"]["columns"] = {
        "type": "object",
        "description": "Session field → its values, one per session in request order; every list equally long. "
        "Fields are those of a session record (all optional; unknown fields are refused), and row_id: "
        "your own id per session, returned beside its score.",
        "properties": lists,
        "additionalProperties": False,
        "minProperties": 1,
    }
    schema["examples"] = [_columns_example()]


class ScoreColumnsRequest(BaseModel):
    """The sessions to score as columns (at most 10,000 values per column): the same fields and rules as
    ``ScoreRequest``'s records, without an object per session, so large batches parse several times faster."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra=_document_columns,
    )

    columns: dict[str, list[Any]]


class ModelInfo(BaseModel):
    """Which model produced the scores."""

    name: str
    version: str
    alias: str


class SessionScore(BaseModel):
    """The conversion probability of one session; with ``explain``, what pushed it up or down."""

    row_id: str | int | None = Field(
        default=None,
        description="The session's row_id as sent (only when the request sent row ids; null for a session "
        "sent without one).",
        examples=["order-line-17"],
    )
    probability: float = Field(description="Calibrated probability that the session converts.")
    contributions: dict[str, float] | None = Field(
        default=None,
        description="With explain: the features that moved the score most, largest absolute value first, as "
        "contributions to the model's raw log-odds (LightGBM SHAP values).",
    )
    bias: float | None = Field(default=None, description="With explain: the raw log-odds of an average session.")
    raw_log_odds: float | None = Field(
        default=None,
        description="With explain: the uncalibrated log-odds, the bias plus every feature's contribution "
        "(calibration then maps it monotonically to the probability).",
    )


class ScoreResponse(BaseModel):
    """Scores in request order, and the model that produced them."""

    model: ModelInfo
    scores: list[SessionScore]


class HealthResponse(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)
