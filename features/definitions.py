"""Every model feature, defined once, and the one transformation that serves training and scoring.

``prepare_features`` turns a frame of session records into the model's input; training calls it on the frame of
:func:`features.sessions.build_sessions`, and the MLflow model (``models.pyfunc``) on the records it is given.
``ColumnFeatures`` computes the same features from raw session columns (JSON columns or Arrow, as the scoring
API receives them) straight into the booster's matrix; tests hold both paths to the same values.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, Final, Literal
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


# prepare_features column by column, for scoring requests ------------------------------------------------
Codes = Callable[[pd.Series], np.ndarray]
_EPOCH = datetime(1970, 1, 1)
_EPOCH_UTC = datetime(1970, 1, 1, tzinfo=UTC)
_ENCODE_FROM_ROWS = 256  # below this many rows, encoding distinct values costs more than it saves


@dataclass(frozen=True)
class EncodedColumn:
    """A column as its distinct values and, per row, the position of the row's value among them (-1: missing).

    What an Arrow dictionary array holds: element-wise functions then run once per distinct value.
    """

    values: Sequence[Hashable]
    codes: np.ndarray  # integers, one per row

    def used(self) -> EncodedColumn:
        """The same column with only the values some row has (a dictionary may hold many more than rows)."""
        if len(self.values) <= len(self.codes):
            return self
        positions, codes = np.unique(self.codes, return_inverse=True)
        return EncodedColumn(np.array([*self.values, None], dtype=object)[positions].tolist(), codes)

    @classmethod
    def combined(cls, parts: Sequence[EncodedColumn]) -> EncodedColumn:
        """The rows' tuples of the parts' values (None where a part is missing), encoded."""
        parts = [part.used() for part in parts]
        key = np.zeros(len(parts[0].codes), dtype=np.int64)
        for part in parts:  # mixed radix: at most 10,001 values per part (as many as rows) keep three within int64
            key = key * (len(part.values) + 1) + (part.codes + 1)
        distinct, codes = np.unique(key, return_inverse=True)
        columns = []
        for part in reversed(parts):
            radix = len(part.values) + 1
            columns.append(np.array([*part.values, None], dtype=object)[distinct % radix - 1].tolist())
            distinct = distinct // radix
        return cls(list(zip(*reversed(columns), strict=True)), codes)

    def tolist(self) -> list[Any]:
        """The value of each row (None where missing)."""
        return list(np.array([*self.values, None], dtype=object)[self.codes])


class _DistinctValues:
    """An element-wise function of a column, computed once per distinct value and then remembered.

    ``compute`` gets the values not seen yet as an object Series and returns one float per value. At most
    ``max_size`` values are kept; past that the memory is dropped at once (and refilled by later requests).
    Safe to share between threads: entries are only added or dropped whole, never changed.
    """

    def __init__(self, compute: Codes, max_size: int) -> None:
        self.compute = compute
        self.max_size = max_size
        self.values: dict[Hashable, float] = {}

    def __call__(self, keys: Sequence[Hashable] | EncodedColumn) -> np.ndarray:
        if isinstance(keys, EncodedColumn):
            keys = keys.used()
            missing = [None] if (keys.codes < 0).any() else []
            return self([*keys.values, *missing])[keys.codes]  # code -1 picks the value of None, the last
        known = self.values
        found = list(map(known.get, keys))  # None: not seen yet (stored values are floats, NaN for missing)
        if None in found:
            new = list(dict.fromkeys(k for k, v in zip(keys, found, strict=True) if v is None))
            computed = dict(zip(new, self.compute(pd.Series(new, dtype="object")).tolist(), strict=True))
            if len(known) + len(computed) > self.max_size:
                self.values = known = {}
            known.update(computed)
            found = [computed[k] if v is None else v for k, v in zip(keys, found, strict=True)]
        return np.array(found, dtype=np.float64)


def _codes_in(categories: Sequence[str]) -> Codes:
    """Values → their index in ``categories`` (NaN when missing or not among them), via ``as_category``.

    This is how LightGBM encodes a pandas categorical at prediction time: set to the training categories,
    codes, -1 as NaN.
    """
    training = list(categories)

    def codes(values: pd.Series) -> np.ndarray:
        coded = as_category(values).cat.set_categories(training).cat.codes.to_numpy(np.float64)
        coded[coded < 0] = np.nan
        return coded

    return codes


class ColumnFeatures:
    """``prepare_features`` for scoring requests: columns of plain values in, one float64 matrix out.

    ``columns`` maps session fields (``SCORING_COLUMNS``) to equally long sequences of Python values: ``str``
    or None for text, numbers or None for counts, ``datetime`` (zone-less read as UTC) or None for
    ``started_at``; a field left out is missing everywhere. Numpy arrays serve as well: object arrays of those
    values, float64 with NaN for missing numbers, ``datetime64`` (UTC, NaT for missing) for ``started_at``;
    text columns may come as an ``EncodedColumn``.
    The values are those of ``prepare_features``, not a second implementation of them: text features
    (channel, categoricals, landing path depth) run through the very helpers it uses, once per distinct
    value, remembered across calls (``cache_size`` per feature); numbers are the same float64 conversions in
    numpy; local hour and weekday come from the same zone. Categorical features come out as codes into
    ``categories[name]`` (NaN for missing or unknown values), as LightGBM codes a pandas categorical against
    its training categories; every categorical among the requested features needs its categories.
    """

    def __init__(self, timezone: str, categories: Mapping[str, Sequence[str]], *, cache_size: int = 65_536) -> None:
        self.timezone = timezone
        self.zone = _zone(timezone)
        self.cache_size = cache_size
        self.categories = {name: list(values) for name, values in categories.items()}
        self._category_codes = {
            name: _DistinctValues(_codes_in(values), cache_size) for name, values in self.categories.items()
        }
        channel_codes = _codes_in(self.categories.get("channel", ()))
        self._channel = _DistinctValues(lambda keys: channel_codes(_channels_of(keys)), cache_size)
        self._path_depth = _DistinctValues(lambda paths: _path_depth(paths).to_numpy(), cache_size)

    def matrix(self, columns: Mapping[str, Any], n_rows: int, feature_names: Sequence[str]) -> np.ndarray:
        """The features ``feature_names`` (columns, in that order) of ``n_rows`` sessions as float64."""
        missing: list[Any] = [None] * n_rows

        def column(name: str) -> Any:
            values = columns.get(name)
            return missing if values is None else values

        def number(name: str) -> np.ndarray:
            return np.array(column(name), dtype=np.float64)  # None becomes NaN

        computed: dict[str, np.ndarray] = {}
        for name in feature_names:
            if name in computed:
                continue
            if name == "channel":
                computed[name] = self._channel(_channel_keys(columns, n_rows))
            elif name in CATEGORICAL_FEATURES:
                if name not in self._category_codes:
                    raise InvalidInput(f"no categories given for the categorical feature {name!r}")
                computed[name] = self._category_codes[name](column(name))
            elif name in ("hour", "weekday"):
                computed["hour"], computed["weekday"] = self._hour_weekday(column("started_at"))
            elif name in ("prev_sessions", "is_returning"):
                explicit = number("prev_sessions")
                prev = np.where(np.isnan(explicit), number("visitor_session_number") - 1, explicit)
                computed["prev_sessions"] = prev
                computed["is_returning"] = np.where(np.isnan(prev), np.nan, (prev > 0).astype(np.float64))
            elif name == "landing_path_depth":
                computed[name] = self._path_depth(column("landing_path"))
            elif name in NUMERIC_FEATURES:
                computed[name] = number(name)
            else:
                raise InvalidInput(f"unknown feature {name!r}")
        matrix = np.empty((n_rows, len(feature_names)), dtype=np.float64)
        for position, name in enumerate(feature_names):
            matrix[:, position] = computed[name]
        return matrix

    def _hour_weekday(self, starts: Sequence[datetime | None] | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Local hour and weekday (Monday 0) of each start; NaN where it is missing.

        ``starts`` are datetimes or None, or a numpy ``datetime64`` array of UTC instants (NaT missing).
        The wall time is the UTC instant plus the zone's offset at that instant (what ``astimezone`` and
        pandas' ``tz_convert`` compute); offsets are looked up once per UTC hour, and per instant in the
        rare hour in which the zone changes its offset.
        """
        if isinstance(starts, np.ndarray) and starts.dtype.kind == "M":
            missing, seconds = _epoch_seconds(starts)
        else:
            deltas = [None if t is None else t - (_EPOCH if t.tzinfo is None else _EPOCH_UTC) for t in starts]
            missing = np.array([d is None for d in deltas], dtype=bool)
            seconds = np.array([0 if d is None else d.days * 86_400 + d.seconds for d in deltas], dtype=np.int64)
        hours = seconds // 3600
        if len(hours) > _ENCODE_FROM_ROWS:  # sessions share a few hundred hours: look each up once
            distinct, codes = np.unique(hours, return_inverse=True)
            offsets = self._hour_offsets(EncodedColumn(distinct.tolist(), codes))
        else:
            offsets = self._hour_offsets(hours.tolist())
        changing = np.flatnonzero(np.isnan(offsets) & ~missing)
        if len(changing):
            offsets[changing] = [self._offset_at(int(s)) for s in seconds[changing]]
        local = seconds + np.nan_to_num(offsets).astype(np.int64)
        hour = (local // 3600 % 24).astype(np.float64)
        weekday = ((local // 86_400 + 3) % 7).astype(np.float64)  # 1970-01-01 was a Thursday
        hour[missing] = np.nan
        weekday[missing] = np.nan
        return hour, weekday

    @cached_property
    def _hour_offsets(self) -> _DistinctValues:
        """The zone's UTC offset in seconds throughout a UTC hour (hours since 1970), NaN if it changes."""

        def offsets(hours: pd.Series) -> np.ndarray:
            result = []
            for hour in hours.tolist():
                first, last = self._offset_at(hour * 3600), self._offset_at(hour * 3600 + 3599)
                result.append(first if first == last else np.nan)
            return np.array(result, dtype=np.float64)

        return _DistinctValues(offsets, self.cache_size)

    def _offset_at(self, seconds: int) -> float:
        """The zone's UTC offset in seconds at an instant (seconds since 1970 UTC)."""
        try:
            offset = datetime.fromtimestamp(seconds, self.zone).utcoffset()
        except (OverflowError, ValueError, OSError) as exc:  # beyond the years 1-9999
            raise InvalidInput(f"a session start lies outside the years 1-9999 in {self.timezone}") from exc
        assert offset is not None
        return offset.total_seconds()


def _epoch_seconds(instants: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(missing, whole seconds since 1970, rounded down as ``datetime - epoch`` is; 0 where missing) of a
    ``datetime64`` array."""
    missing = np.isnat(instants)
    seconds = np.where(missing, 0, instants.astype("datetime64[s]").view(np.int64))  # numpy casts by flooring
    return missing, seconds


def _channel_keys(columns: Mapping[str, Any], n_rows: int) -> Sequence[Any] | EncodedColumn:
    """(utm_source, utm_medium, referrer_host) of each row: encoded when the columns given are."""
    parts = [columns.get(name) for name in ("utm_source", "utm_medium", "referrer_host")]
    if all(part is None or isinstance(part, EncodedColumn) for part in parts):
        absent = EncodedColumn((), np.full(n_rows, -1, dtype=np.int64))
        return EncodedColumn.combined([absent if part is None else part for part in parts])
    plain = [
        [None] * n_rows if part is None else part.tolist() if isinstance(part, EncodedColumn) else part
        for part in parts
    ]
    return list(zip(*plain, strict=True))


def _channels_of(keys: pd.Series) -> pd.Series:
    """``classify_channel`` of (utm_source, utm_medium, referrer_host) tuples."""
    source, medium, host = (pd.Series([k[i] for k in keys], dtype="object") for i in range(3))
    return classify_channel(source, medium, host)


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
