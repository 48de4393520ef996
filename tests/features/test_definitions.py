"""Feature definitions and prepare_features: one transformation for training and scoring."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from core.layout import StorageLayout
from features import definitions
from features.definitions import (
    CATEGORICAL_FEATURES,
    FEATURE_NAMES,
    FEATURES,
    INPUT_COLUMNS,
    NUMERIC_FEATURES,
    SCORING_COLUMNS,
    example_session_records,
    feature_definitions_hash,
    prepare_features,
)
from features.sessions import SESSION_COLUMNS, build_sessions

TIMEZONE = "Europe/Berlin"


def _varied_lake(lake: Any) -> None:
    """Visitors from several channels, returning visitors, conversions, odd paths, missing fields."""
    c = lake.visitor_b[:-2]
    lake.write(
        [
            lake.hit(
                minutes=0,
                utm_source="google",
                utm_medium="cpc",
                campaign_id="c-1",
                creative_id="cr-1",
                path="/shoes/red",
            ),
            lake.hit(minutes=3, event_type="click"),
            lake.hit(minutes=5, event_type="goal", goal="purchase", value=80.0),
            lake.hit(minutes=24 * 60, referrer_host="www.facebook.com", path="/", device_class="mobile"),
            lake.hit(lake.visitor_b, minutes=30, utm_source="newsletter", utm_medium="email", path="/deals/"),
            lake.hit(lake.visitor_b, minutes=31, region=None, browser_family=None),
            lake.hit(c + "03", minutes=14 * 60 + 59, referrer_host="blog.example.net", path=None, os_family="iOS"),
            lake.hit(c + "04", minutes=16 * 60, campaign_id="c-2"),
            lake.hit(c + "04", minutes=16 * 60 + 1, event_type="goal", goal="signup"),
        ]
    )


def _as_json_body(sessions: pd.DataFrame) -> list[dict[str, Any]]:
    """The session records as a client would POST them: JSON objects with ISO timestamps."""
    body = sessions.to_json(orient="records", date_format="iso", date_unit="us")
    records: list[dict[str, Any]] = json.loads(json.dumps(json.loads(body)))
    return records


def test_training_and_scoring_prepare_identical_features(layout: StorageLayout, lake: Any) -> None:
    _varied_lake(lake)
    sessions = build_sessions(layout, lake.client_id, timezone=TIMEZONE)
    assert len(sessions) == 5

    training = prepare_features(sessions, TIMEZONE)
    records = _as_json_body(sessions)
    scoring = prepare_features(pd.DataFrame.from_records(records), TIMEZONE)

    pd.testing.assert_frame_equal(training, scoring)
    # One session per request, as the scoring API sees them: the same values row by row.
    for position, record in enumerate(records):
        single = prepare_features(pd.DataFrame.from_records([record]), TIMEZONE)
        expected = training.iloc[[position]].astype(object).reset_index(drop=True)
        pd.testing.assert_frame_equal(single.astype(object), expected)


def test_prepared_frame_has_the_defined_columns_and_dtypes(layout: StorageLayout, lake: Any) -> None:
    _varied_lake(lake)
    prepared = prepare_features(build_sessions(layout, lake.client_id), TIMEZONE)

    assert tuple(prepared.columns) == FEATURE_NAMES
    for feature in FEATURES:
        assert str(prepared[feature.name].dtype) == feature.dtype, feature.name
        if feature.kind == "categorical":
            assert str(prepared[feature.name].cat.categories.dtype) == "str"
    channels = prepared["channel"].astype(str).tolist()
    assert channels == ["search", "email", "referral", "direct", "social"]
    assert prepared["is_returning"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]
    assert prepared["landing_path_depth"].iloc[:2].tolist() == [2.0, 1.0]
    assert np.isnan(prepared["landing_path_depth"].iloc[2])


def test_missing_inputs_become_null_and_unknown_columns_are_ignored() -> None:
    records = pd.DataFrame(
        [
            {"utm_source": "facebook", "pageviews": "3", "started_at": "2024-03-04T23:30:00Z", "shoe_size": 44},
            {"visitor_session_number": 3, "landing_path": "https://shop.example/a/b/c?x=1", "campaign_id": ""},
        ],
        index=[7, 9],
    )

    prepared = prepare_features(records, TIMEZONE)

    assert tuple(prepared.columns) == FEATURE_NAMES
    assert prepared.index.tolist() == [7, 9]
    assert prepared["channel"].astype(str).tolist() == ["social", "direct"]
    assert prepared.loc[7, "pageviews"] == 3.0
    assert (prepared.loc[7, "hour"], prepared.loc[7, "weekday"]) == (0.0, 1.0)  # Tuesday 00:30 in Berlin
    derived = ["prev_sessions", "is_returning", "landing_path_depth"]
    assert prepared[derived].iloc[1].tolist() == [2.0, 1.0, 3.0]
    other_numbers = [name for name in NUMERIC_FEATURES if name not in derived]
    assert prepared[other_numbers].iloc[1].isna().all()
    other_categories = [name for name in CATEGORICAL_FEATURES if name != "channel"]
    assert prepared[other_categories].isna().all().all()


def test_hour_and_weekday_are_read_in_the_clients_time_zone() -> None:
    starts = pd.DataFrame({"started_at": ["2024-03-04T23:30:00Z", "2024-03-04T10:15:00-05:00", None]})
    assert prepare_features(starts, "UTC")[["hour", "weekday"]].iloc[0].tolist() == [23.0, 0.0]
    berlin = prepare_features(starts, "Europe/Berlin")
    assert berlin["hour"].iloc[:2].tolist() == [0.0, 16.0]
    assert berlin["weekday"].iloc[:2].tolist() == [1.0, 0.0]
    assert berlin[["hour", "weekday"]].iloc[2].isna().all()
    with pytest.raises(InvalidInput, match="time zone"):
        prepare_features(starts, "Nowhere/Atlantis")


def test_empty_input_gives_the_same_columns_and_dtypes() -> None:
    prepared = prepare_features(pd.DataFrame())
    assert len(prepared) == 0
    assert tuple(prepared.columns) == FEATURE_NAMES
    assert [str(t) for t in prepared.dtypes] == [f.dtype for f in FEATURES]


def test_definitions_are_consistent() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert set(CATEGORICAL_FEATURES) | set(NUMERIC_FEATURES) == set(FEATURE_NAMES)
    for feature in FEATURES:
        assert feature.kind in ("numeric", "categorical")
        assert feature.dtype == ("category" if feature.kind == "categorical" else "float64")
        assert feature.description
        assert set(feature.source_columns) <= set(SESSION_COLUMNS), feature.name
    assert set(INPUT_COLUMNS) <= set(SESSION_COLUMNS)
    identifying = {"visitor_id", "session_id", "ended_at", "ip_prefix", "url", "referrer"}
    assert not identifying & set(INPUT_COLUMNS)


def test_definitions_hash_is_stable_and_tracks_the_transformation(monkeypatch: pytest.MonkeyPatch) -> None:
    first = feature_definitions_hash()
    assert first == feature_definitions_hash()
    assert len(first) == 64 and int(first, 16) >= 0
    monkeypatch.setattr(definitions, "TRANSFORM_VERSION", definitions.TRANSFORM_VERSION + 1)
    assert feature_definitions_hash() != first
    monkeypatch.undo()
    monkeypatch.setattr(definitions, "FEATURES", FEATURES[:-1])
    assert feature_definitions_hash() != first


def test_example_records_are_scoring_inputs_with_present_and_missing_values() -> None:
    examples = example_session_records()
    assert tuple(examples.columns) == SCORING_COLUMNS
    assert set(SCORING_COLUMNS) <= set(SESSION_COLUMNS)
    assert set(INPUT_COLUMNS) <= set(SCORING_COLUMNS)
    assert examples.notna().any().all() and examples.isna().any().all()
    assert str(examples["started_at"].dtype) == "datetime64[us]"  # zone-less UTC, as MLflow wants
    prepared = prepare_features(examples, TIMEZONE)
    assert prepared["channel"].astype(str).tolist() == ["search", "social", "email", "search", "referral"]
    # The JSON an API client would send, and zone-aware times, give the same features.
    body = json.loads(examples.to_json(orient="records", date_format="iso"))
    pd.testing.assert_frame_equal(prepare_features(pd.DataFrame.from_records(body), TIMEZONE), prepared)
    aware = examples.assign(started_at=examples["started_at"].dt.tz_localize("UTC"))
    pd.testing.assert_frame_equal(prepare_features(aware, TIMEZONE), prepared)
    assert prepared["hour"].iloc[0] == 15.0  # 14:03 UTC is 15:03 in Berlin


# ColumnFeatures: prepare_features for scoring requests, value for value --------------------------------
_TEXT_POOLS: dict[str, list[str | None]] = {
    "utm_source": [None, "google", " Google ", "facebook", "newsletter", "", "  ", "partner-blog", "x", "bing\t"],
    "utm_medium": [None, "cpc", "email", "paid_social", "referral", "organic", "", "Display", "affiliate"],
    "referrer_host": [None, "www.google.de", "l.facebook.com", "blog.example.net", "", "t.co", "news.ycombinator.com"],
    "campaign_id": [None, "c-1", "c-2", " c-1", "c-new", "", "été", "c-1 "],
    "creative_id": [None, "cr-1", "cr-2", "cr-3", "\tcr-1", ""],
    "device_class": [None, "desktop", "mobile", "tablet", "Mobile", " "],
    "browser_family": [None, "Chrome", "Firefox", "Mobile Safari", "chrome"],
    "os_family": [None, "iOS", "Android", "Windows", "Linux\n"],
    "region": [None, "Europe/Berlin", "DE-BE", "America/New_York", ""],
    "landing_path": [
        None,
        "/",
        "/a/b",
        "https://shop.example/a/b/c?x=1",
        "/a//b/",
        "?q=1",
        "#frag",
        "/p?x=/y",
        "",
        "/a?b\n",
        "http://x",
        "/ü/ä",
        "/a/b\n/c",
    ],
}


def _starts(rng: np.random.Generator, n: int) -> list[Any]:
    """Instants as a caller sends them: zone-less (UTC) or with offsets, some at DST changes, some missing."""
    base = datetime(2026, 1, 1, tzinfo=UTC)
    edges = [
        datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 0, 0, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 59, 59, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 0, 0, tzinfo=UTC),
        # offset changes within a UTC hour: Lord Howe's half-hour DST, Kathmandu's move to +05:45 in 1986
        datetime(2026, 10, 3, 15, 29, 59, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 30, 0, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 45, 0, tzinfo=UTC),
        datetime(1985, 12, 31, 18, 29, 59, tzinfo=UTC),
        datetime(1985, 12, 31, 18, 30, 0, tzinfo=UTC),
        datetime(1985, 12, 31, 18, 50, 0, tzinfo=UTC),
    ]
    offsets = [timezone(timedelta(hours=h, minutes=m)) for h, m in ((0, 0), (5, 30), (-3, -30), (9, 0), (-8, 0))]
    values: list[Any] = []
    for i in range(n):
        kind = i % 5
        instant = edges[i % len(edges)] if kind == 0 else base + timedelta(seconds=int(rng.integers(0, 366 * 86400)))
        if kind == 1:
            values.append(None)
        elif kind == 2:
            values.append(instant.replace(tzinfo=None))  # zone-less: read as UTC
        else:
            values.append(instant.astimezone(offsets[i % len(offsets)]))
    return values


def _random_columns(n: int, seed: int) -> dict[str, list[Any]]:
    rng = np.random.default_rng(seed)

    def maybe(values: np.ndarray) -> list[Any]:
        return [None if missing else v for v, missing in zip(values.tolist(), rng.random(n) < 0.2, strict=True)]

    columns: dict[str, list[Any]] = {
        name: [pool[int(i)] for i in rng.integers(0, len(pool), n)] for name, pool in _TEXT_POOLS.items()
    }
    columns["started_at"] = _starts(rng, n)
    for name in ("pageviews", "clicks", "events", "prev_conversions"):
        columns[name] = maybe(rng.poisson(2, n))
    columns["prev_sessions"] = maybe(rng.poisson(1, n))
    columns["visitor_session_number"] = maybe(rng.integers(1, 6, n))
    columns["duration_s"] = maybe(np.round(rng.exponential(100, n), 3))
    columns["days_since_last_session"] = maybe(rng.exponential(5, n))
    return columns


def _lightgbm_matrix(prepared: pd.DataFrame, categories: dict[str, list[str]]) -> np.ndarray:
    """What LightGBM makes of a prepared frame at prediction time: categoricals set to the training
    categories and coded (-1 as NaN), everything float64."""
    frame = prepared.copy()
    for name, values in categories.items():
        codes = frame[name].cat.set_categories(values).cat.codes
        frame[name] = codes.astype("float64").where(codes >= 0)
    return frame.astype("float64").to_numpy()


def _records_frame(columns: dict[str, list[Any]]) -> pd.DataFrame:
    """The columns as the pyfunc gets them: zone-less UTC times, float64 numbers."""
    frame = pd.DataFrame(columns)
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True).dt.tz_localize(None)
    numbers = [c for c in frame.columns if c not in _TEXT_POOLS and c != "started_at"]
    frame[numbers] = frame[numbers].astype("float64")
    return frame


@pytest.mark.parametrize(
    "timezone", ["Europe/Berlin", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe", "UTC"]
)
def test_column_features_are_the_values_lightgbm_gets_from_prepare_features(timezone: str) -> None:
    training = prepare_features(_records_frame(_random_columns(300, seed=1)), timezone)
    categories = {name: list(training[name].cat.categories) for name in CATEGORICAL_FEATURES}
    columns = _random_columns(2000, seed=2)  # other draws: some categories were never seen in training
    expected = _lightgbm_matrix(prepare_features(_records_frame(columns), timezone), categories)
    assert np.isnan(expected).any() and not np.isnan(expected).all(axis=0).any()

    features = definitions.ColumnFeatures(timezone, categories, cache_size=50)  # small: the memory overflows
    for _ in range(2):  # the second time from what the first remembered
        np.testing.assert_array_equal(features.matrix(columns, 2000, FEATURE_NAMES), expected)
    changes = {"Australia/Lord_Howe": datetime(2026, 10, 3, 15), "Asia/Kathmandu": datetime(1985, 12, 31, 18)}
    if timezone in changes:  # the UTC hour in which the offset changes is computed instant by instant
        hour = (changes[timezone] - datetime(1970, 1, 1)) // timedelta(hours=1)
        assert np.isnan(features._hour_offsets([hour])).all()
    for row in (0, 1, 2, 7, 1999):  # one session per call, as single-session requests come
        single = {name: values[row : row + 1] for name, values in columns.items()}
        np.testing.assert_array_equal(features.matrix(single, 1, FEATURE_NAMES), expected[row : row + 1])


def test_column_features_take_any_feature_order_and_missing_fields() -> None:
    categories = {name: ["c-1", "desktop", "search"] for name in CATEGORICAL_FEATURES}
    features = definitions.ColumnFeatures("Europe/Berlin", categories)
    columns: dict[str, list[Any]] = {"utm_medium": ["cpc", None], "visitor_session_number": [3, None]}
    order = ["prev_sessions", "channel", "is_returning", "hour", "device_class"]
    matrix = features.matrix(columns, 2, order)
    expected = _lightgbm_matrix(
        prepare_features(pd.DataFrame(columns), "Europe/Berlin")[order],
        {
            "channel": categories["channel"],
            "device_class": categories["device_class"],
        },
    )
    np.testing.assert_array_equal(matrix, expected)
    assert matrix[0].tolist()[:3] == [2.0, 2.0, 1.0]  # prev_sessions from the session number; search is code 2
    with pytest.raises(InvalidInput, match="no categories"):
        definitions.ColumnFeatures("UTC", {}).matrix(columns, 2, ["campaign_id"])
    with pytest.raises(InvalidInput, match="time zone"):
        definitions.ColumnFeatures("Nowhere/Atlantis", categories)
    with pytest.raises(InvalidInput, match="outside the years"):
        definitions.ColumnFeatures("America/New_York", categories).matrix(
            {"started_at": [datetime(1, 1, 1, tzinfo=UTC)]}, 1, ["hour"]
        )
