"""Request and response bodies of the API (separate from stored types)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from features.definitions import EXAMPLE_SESSIONS

MAX_SCORE_BATCH = 10_000
_EXAMPLE: dict[str, Any] = dict(EXAMPLE_SESSIONS[0])


class SessionRecord(BaseModel):
    """A raw session, as the feature pipeline builds it from the lake; every field is optional."""

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
    duration_s: float | None = Field(default=None, ge=0, le=86_400 * 7)
    browser_family: str | None = Field(default=None, max_length=100)
    browser_version: str | None = Field(default=None, max_length=50)
    os_family: str | None = Field(default=None, max_length=100)
    os_version: str | None = Field(default=None, max_length=50)
    device_class: str | None = Field(default=None, max_length=20)
    region: str | None = Field(default=None, max_length=64)
    visitor_session_number: int | None = Field(default=None, ge=1)
    prev_sessions: int | None = Field(default=None, ge=0)
    prev_conversions: int | None = Field(default=None, ge=0)
    days_since_last_session: float | None = Field(default=None, ge=0)


class ScoreRequest(BaseModel):
    """One or more sessions to score."""

    model_config = ConfigDict(extra="forbid")

    sessions: list[SessionRecord] = Field(min_length=1, max_length=MAX_SCORE_BATCH)


class ModelInfo(BaseModel):
    """Which model produced the scores."""

    name: str
    version: str
    alias: str


class SessionScore(BaseModel):
    """The conversion probability of one session, with optional top contributions."""

    probability: float
    contributions: dict[str, float] | None = None


class ScoreResponse(BaseModel):
    """Scores in request order."""

    model: ModelInfo
    scores: list[SessionScore]


class HealthResponse(BaseModel):
    status: str
    checks: dict[str, Any] = Field(default_factory=dict)
