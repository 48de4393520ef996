"""Every model feature, defined once, and the one transformation that serves training and scoring.

``prepare_features`` turns session records into the model's input. Training calls it on the frame of
:func:`features.sessions.build_sessions`; the scoring API calls it on the JSON records a client posts
(any subset of the session columns). Both paths run this same code, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from core.errors import InvalidInput
from features.channels import channel_rules, classify_channel
from features.session_schema import SCORING_COLUMNS

# Bump when prepare_features computes any feature differently; it is part of feature_definitions_hash().
TRANSFORM_VERSION = 2  # 2: engagement counted before the session's first conversion

FeatureKind = Literal["numeric", "categorical"]
CATEGORICAL_DTYPE: Final = "category"
NUMERIC_DTYPE: Final = "float64"


@dataclass(frozen=True)
class FeatureDefinition:
    """One model input: its name, kind, pandas dtype, meaning, and the session columns it reads."""

    name: str
    kind: FeatureKind
    dtype: str
    description: str
    source_columns: tuple[str, ...]


def _categorical(name: str, description: str, *sources: str) -> FeatureDefinition:
    return FeatureDefinition(name, "categorical", CATEGORICAL_DTYPE, description, sources or (name,))


def _numeric(name: str, description: str, *sources: str) -> FeatureDefinition:
    return FeatureDefinition(name, "numeric", NUMERIC_DTYPE, description, sources or (name,))


FEATURES: tuple[FeatureDefinition, ...] = (
    _categorical(
        "channel",
        "Marketing channel (features.channels rules): search, social, email, display, affiliate, referral or direct.",
        "utm_source",
        "utm_medium",
        "referrer_host",
    ),
    _categorical("campaign_id", "The client's campaign id of the session's first hit."),
    _categorical("creative_id", "The creative (ad) id of the session's first hit."),
    _categorical("device_class", "desktop, mobile, tablet or unknown."),
    _categorical("browser_family", "Browser family, e.g. Chrome."),
    _categorical("os_family", "Operating system family, e.g. iOS."),
    _categorical("region", "Coarse region of the visitor (as the edge recorded it)."),
    _numeric("hour", "Hour of the session start in the client's time zone, 0-23.", "started_at"),
    _numeric("weekday", "Weekday of the session start in the client's time zone, Monday 0 to Sunday 6.", "started_at"),
    _numeric(
        "is_returning", "1 when the visitor had an earlier session, else 0.", "prev_sessions", "visitor_session_number"
    ),
    _numeric("prev_sessions", "Number of the visitor's earlier sessions.", "prev_sessions", "visitor_session_number"),
    _numeric("prev_conversions", "Conversions in the visitor's earlier sessions."),
    _numeric(
        "days_since_last_session",
        "Days from the end of the visitor's previous session to this start; null for a first session.",
    ),
    _numeric("pageviews", "Pageviews in the session before its first conversion."),
    _numeric("clicks", "Clicks in the session before its first conversion."),
    _numeric("duration_s", "Seconds from the session's first hit to its last hit before its first conversion."),
    _numeric("landing_path_depth", "Number of path segments of the landing page (/ is 0, /a/b is 2).", "landing_path"),
)
FEATURE_NAMES: tuple[str, ...] = tuple(f.name for f in FEATURES)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind == "categorical")
NUMERIC_FEATURES: tuple[str, ...] = tuple(f.name for f in FEATURES if f.kind == "numeric")
# The session columns prepare_features reads; a caller may send any subset, other columns are ignored.
INPUT_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(c for f in FEATURES for c in f.source_columns))

_NUMERIC_INPUTS: tuple[str, ...] = (
    "pageviews",
    "clicks",
    "events",
    "duration_s",
    "visitor_session_number",
    "prev_sessions",
    "prev_conversions",
    "days_since_last_session",
)
EXAMPLE_SESSIONS: tuple[dict[str, object], ...] = (
    {
        "started_at": "2026-11-20T14:03:00Z",
        "utm_source": "google",
        "utm_medium": "cpc",
        "utm_campaign": "brand",
        "campaign_id": "cmp-search-brand",
        "creative_id": "cr-search-brand-a",
        "landing_path": "/offers/winter",
        "pageviews": 4,
        "clicks": 1,
        "events": 5,
        "duration_s": 210.0,
        "browser_family": "Mobile Safari",
        "browser_version": "17.1",
        "os_family": "iOS",
        "os_version": "17.1",
        "device_class": "mobile",
        "region": "DE-BE",
        "visitor_session_number": 3,
        "prev_sessions": 2,
        "prev_conversions": 0,
        "days_since_last_session": 6.0,
    },
    {
        "started_at": "2026-11-21T09:30:00Z",
        "utm_source": "facebook",
        "utm_medium": "paid_social",
        "utm_campaign": "retargeting",
        "utm_content": "carousel",
        "campaign_id": "cmp-social-retarget",
        "creative_id": "cr-social-b",
        "referrer_host": "l.facebook.com",
        "landing_path": "/",
        "pageviews": 1,
        "clicks": 0,
        "events": 1,
        "duration_s": 0.0,
        "browser_family": "Chrome Mobile",
        "os_family": "Android",
        "device_class": "mobile",
        "visitor_session_number": 1,
        "prev_sessions": 0,
        "prev_conversions": 0,
    },
    {
        "started_at": "2026-11-21T19:45:00Z",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "black-friday",
        "utm_term": "shoes",
        "landing_path": "/deals/shoes",
        "pageviews": 7,
        "clicks": 3,
        "events": 10,
        "duration_s": 540.0,
        "browser_family": "Firefox",
        "browser_version": "120.0",
        "os_family": "Windows",
        "os_version": "10",
        "device_class": "desktop",
        "region": "FR-75",
        "visitor_session_number": 5,
        "prev_sessions": 4,
        "prev_conversions": 1,
        "days_since_last_session": 1.5,
    },
    {
        "started_at": "2026-11-22T07:10:00Z",
        "referrer_host": "www.bing.com",
        "pageviews": 2,
        "clicks": 0,
        "events": 2,
        "duration_s": 45.0,
        "browser_family": "Edge",
        "os_family": "Windows",
        "device_class": "desktop",
        "region": "DE-BY",
    },
    {"started_at": None, "utm_source": "partner-blog", "utm_medium": "referral", "landing_path": "/a/b/c"},
)


def example_session_records() -> pd.DataFrame:
    """A few realistic raw session records in the shape a scoring caller sends (``SCORING_COLUMNS``).

    Every column has present and missing values, numbers are float64 (so a schema inferred from these
    accepts missing values), ``started_at`` is zone-less UTC ``datetime64[us]`` (MLflow signatures accept
    only zone-less datetimes; ``prepare_features`` reads zone-less times as UTC). For API docs, MLflow
    signatures and input examples, and smoke tests.
    """
    frame = pd.DataFrame.from_records(list(EXAMPLE_SESSIONS), columns=list(SCORING_COLUMNS))
    text_columns = [c for c in SCORING_COLUMNS if c != "started_at" and c not in _NUMERIC_INPUTS]
    frame[text_columns] = frame[text_columns].astype("str")
    frame[list(_NUMERIC_INPUTS)] = frame[list(_NUMERIC_INPUTS)].astype(NUMERIC_DTYPE)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True).dt.tz_localize(None).astype("datetime64[us]")
    return frame


# conversions ---------------------------------------------------------------------------------------
def _column(sessions: pd.DataFrame, name: str) -> pd.Series:
    """The column ``name``, or all-missing when the caller did not send it."""
    if name in sessions.columns:
        return sessions[name]
    return pd.Series(None, index=sessions.index, dtype="object", name=name)


def _number(values: pd.Series) -> pd.Series:
    """Numbers as float64; anything unparsable becomes NaN."""
    numbers: pd.Series = pd.to_numeric(values, errors="coerce").astype(NUMERIC_DTYPE)
    return numbers


def _utc(values: pd.Series) -> pd.Series:
    """Instants as UTC timestamps: datetimes (naive ones read as UTC) or ISO 8601 strings."""
    instants: pd.Series
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        instants = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        instants = values.dt.tz_localize("UTC")
    else:
        instants = pd.to_datetime(values, utc=True, errors="coerce", format="ISO8601")
    return instants


def as_category(values: pd.Series) -> pd.Series:
    """Trimmed strings as a categorical with sorted ``str`` categories; empty strings become missing.

    Works on the distinct values only (sessions repeat a few hundred browsers, regions, campaigns).
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    text = pd.Series(uniques, dtype="object").astype("str").str.strip()
    text = text.where(text.str.len() > 0)
    categories = pd.Index(sorted(text.dropna().unique()), dtype="str")
    unique_codes = np.append(categories.get_indexer(text), -1)  # the last slot answers missing values
    categorical = pd.Categorical.from_codes(unique_codes[codes], categories=categories)
    return pd.Series(categorical, index=values.index)


def _path_depth(paths: pd.Series) -> pd.Series:
    """Non-empty path segments of a path (a full URL's scheme, host and query are ignored)."""
    codes, uniques = pd.factorize(paths, use_na_sentinel=True)
    text = pd.Series(uniques, dtype="object").astype("str")
    path = text.str.replace(r"^[A-Za-z][A-Za-z0-9+.-]*://[^/?#]*", "", regex=True).str.replace(
        r"[?#].*$", "", regex=True
    )
    depth = np.append(_number(path.str.count(r"[^/]+")).to_numpy(), np.nan)
    return pd.Series(depth[codes], index=paths.index, dtype=NUMERIC_DTYPE)


def _prev_sessions(sessions: pd.DataFrame) -> pd.Series:
    explicit = _number(_column(sessions, "prev_sessions"))
    from_number = _number(_column(sessions, "visitor_session_number")) - 1
    return explicit.fillna(from_number)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ValueError, KeyError) as exc:  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput(f"unknown time zone {timezone!r}: use an IANA name such as Europe/Berlin") from exc


def _feature_values(sessions: pd.DataFrame, timezone: str) -> dict[str, pd.Series]:
    """Each feature's values before its dtype is fixed, computed from the session columns."""
    zone = _zone(timezone)
    local_start = _utc(_column(sessions, "started_at")).dt.tz_convert(zone)
    prev_sessions = _prev_sessions(sessions)
    is_returning = prev_sessions.gt(0).astype(NUMERIC_DTYPE).where(prev_sessions.notna())
    values = {
        "channel": classify_channel(
            _column(sessions, "utm_source"), _column(sessions, "utm_medium"), _column(sessions, "referrer_host")
        ),
        "hour": local_start.dt.hour,
        "weekday": local_start.dt.day_of_week,
        "is_returning": is_returning,
        "prev_sessions": prev_sessions,
        "landing_path_depth": _path_depth(_column(sessions, "landing_path")),
    }
    # The other features are session columns of the same name.
    return {f.name: values[f.name] if f.name in values else _column(sessions, f.name) for f in FEATURES}


def prepare_features(sessions: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """Model features of session records: the columns of ``FEATURES``, in that order, with their dtypes.

    ``sessions`` holds session records (columns of ``features.sessions.SESSION_SCHEMA``; ``started_at`` as
    datetimes or ISO 8601 strings). Missing columns give missing values, unknown columns are ignored, and
    the index is kept. Categoricals are ``category`` with sorted ``str`` categories; numerics ``float64``.
    ``timezone`` is the client's IANA zone, in which ``hour`` and ``weekday`` are read.
    """
    values = _feature_values(sessions, timezone)
    columns = {
        f.name: as_category(values[f.name]) if f.kind == "categorical" else _number(values[f.name]) for f in FEATURES
    }
    return pd.DataFrame(columns, index=sessions.index)


def feature_definitions_hash() -> str:
    """A stable sha256 of what decides feature values: names, kinds, dtypes, sources, channel rules, version.

    Descriptions are left out on purpose: rewording one does not change a single value.
    """
    spec = {
        "transform_version": TRANSFORM_VERSION,
        "features": [
            {"name": f.name, "kind": f.kind, "dtype": f.dtype, "source_columns": list(f.source_columns)}
            for f in FEATURES
        ],
        "channel_rules": channel_rules(),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
