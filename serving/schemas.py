"""Request and response bodies of the API (separate from stored types)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from features.definitions import EXAMPLE_SESSIONS

MAX_SCORE_BATCH = 10_000
MAX_TOP_CONTRIBUTIONS = 50
_EXAMPLE: dict[str, Any] = dict(EXAMPLE_SESSIONS[0])
_BATCH_EXAMPLE: dict[str, Any] = {"sessions": [dict(s) for s in EXAMPLE_SESSIONS[:2]]}
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


class ScoreRequest(BaseModel):
    """One or more sessions to score (at most 10,000 per request)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [_BATCH_EXAMPLE]},
    )

    sessions: list[SessionRecord] = Field(min_length=1, max_length=MAX_SCORE_BATCH)


def _columns_example() -> dict[str, Any]:
    sessions = [dict(s) for s in EXAMPLE_SESSIONS[:2]]
    names = [name for name in SessionRecord.model_fields if any(name in s for s in sessions)]
    return {"columns": {name: [s.get(name) for s in sessions] for name in names}}


def _document_columns(schema: dict[str, Any]) -> None:
    """Document ``columns`` as one optional list per ``SessionRecord`` field, and give an example."""
    fields = SessionRecord.model_json_schema()["properties"]
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
        "Fields are those of a session record (all optional; unknown fields are refused).",
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
