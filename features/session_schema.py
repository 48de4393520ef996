"""The shape of a session record: what sessionization produces and what a scoring caller may send.

Kept apart from ``features.sessions`` (which needs DuckDB) so that scoring imports only this.
"""

from __future__ import annotations

import pyarrow as pa

from tracking.events import CAMPAIGN_FIELDS, TIMESTAMP

ACQUISITION_COLUMNS: tuple[str, ...] = (*CAMPAIGN_FIELDS, "referrer_host", "landing_path")
TECHNICAL_COLUMNS: tuple[str, ...] = (
    "browser_family",
    "browser_version",
    "os_family",
    "os_version",
    "device_class",
    "region",
)
SESSION_SCHEMA = pa.schema(
    [
        pa.field("session_id", pa.string(), nullable=False),
        pa.field("visitor_id", pa.string(), nullable=False),
        pa.field("started_at", TIMESTAMP, nullable=False),
        pa.field("ended_at", TIMESTAMP, nullable=False),
        *(pa.field(name, pa.string()) for name in ACQUISITION_COLUMNS),
        pa.field("pageviews", pa.int64(), nullable=False),
        pa.field("clicks", pa.int64(), nullable=False),
        pa.field("events", pa.int64(), nullable=False),
        pa.field("duration_s", pa.float64(), nullable=False),
        *(pa.field(name, pa.string()) for name in TECHNICAL_COLUMNS),
        pa.field("visitor_session_number", pa.int64(), nullable=False),
        pa.field("prev_sessions", pa.int64(), nullable=False),
        pa.field("prev_conversions", pa.int64(), nullable=False),
        pa.field("days_since_last_session", pa.float64()),
        pa.field("converted", pa.bool_(), nullable=False),
        pa.field("conversion_value", pa.float64(), nullable=False),
        pa.field("goal", pa.string()),
        pa.field("conversions", pa.int64(), nullable=False),
        pa.field("window_conversions", pa.int64(), nullable=False),
        pa.field("window_conversion_value", pa.float64(), nullable=False),
    ]
)
SESSION_COLUMNS: tuple[str, ...] = tuple(SESSION_SCHEMA.names)

IDENTIFIER_COLUMNS: tuple[str, ...] = ("session_id", "visitor_id")
OUTCOME_COLUMNS: tuple[str, ...] = (
    "converted",
    "conversion_value",
    "goal",
    "conversions",
    "window_conversions",
    "window_conversion_value",
)
# Fields of a session record a scoring caller may send: the session columns minus ids, end and labels.
SCORING_COLUMNS: tuple[str, ...] = tuple(
    c for c in SESSION_COLUMNS if c not in {*IDENTIFIER_COLUMNS, "ended_at", *OUTCOME_COLUMNS}
)
