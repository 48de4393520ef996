"""The shapes of a hit: the raw hit the edge receives, and the event the lake stores."""

from __future__ import annotations

from enum import StrEnum

import pyarrow as pa


class EventType(StrEnum):
    """What a hit records."""

    PAGEVIEW = "pageview"
    CLICK = "click"
    GOAL = "goal"
    CUSTOM = "custom"


class HitSource(StrEnum):
    """How a hit reached xmo."""

    PIXEL = "pixel"
    REDIRECT = "redirect"
    SERVER = "server"
    IMPORT = "import"
    SIMULATOR = "simulator"


CAMPAIGN_FIELDS: tuple[str, ...] = (
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_term",
    "campaign_id",
    "creative_id",
)

# Raw hits, as the edge receives them. Columns marked personal never go past the edge.
RAW_STRING_COLUMNS: tuple[str, ...] = (
    "client_id",
    "event_id",
    "event_type",
    "visitor_id",
    "url",
    "referrer",
    *CAMPAIGN_FIELDS,
    "goal",
    "currency",
    "email",
    "member_id",
    "ip",
    "user_agent",
    "region",
    "source",
)
RAW_BOOL_COLUMNS: tuple[str, ...] = ("consent", "optout", "gpc", "dnt")
RAW_FLOAT_COLUMNS: tuple[str, ...] = ("value",)
RAW_TIME_COLUMNS: tuple[str, ...] = ("ts",)
PERSONAL_RAW_COLUMNS: frozenset[str] = frozenset({"email", "member_id", "ip", "user_agent"})

TIMESTAMP = pa.timestamp("us", tz="UTC")
# Bump on any change of EVENT_SCHEMA; every spool batch and lake file carries it in its schema metadata.
EVENT_SCHEMA_VERSION = 1

# What the spool and the lake hold: privacy-safe by construction (no raw IP, user agent, email, member id).
EVENT_SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("client_id", pa.string(), nullable=False),
        pa.field("ts", TIMESTAMP, nullable=False),
        pa.field("received_at", TIMESTAMP, nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("visitor_id", pa.string(), nullable=False),
        pa.field("url", pa.string()),
        pa.field("path", pa.string()),
        pa.field("referrer", pa.string()),
        pa.field("referrer_host", pa.string()),
        *(pa.field(name, pa.string()) for name in CAMPAIGN_FIELDS),
        pa.field("goal", pa.string()),
        pa.field("value", pa.float64()),
        pa.field("currency", pa.string()),
        pa.field("browser_family", pa.string()),
        pa.field("browser_version", pa.string()),
        pa.field("os_family", pa.string()),
        pa.field("os_version", pa.string()),
        pa.field("device_class", pa.string()),
        pa.field("ip_prefix", pa.string()),
        pa.field("region", pa.string()),
        pa.field("email_pseudonym", pa.string()),
        pa.field("member_pseudonym", pa.string()),
        pa.field("consent", pa.bool_(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
    ],
    metadata={"xmo.events.schema_version": str(EVENT_SCHEMA_VERSION)},
)
