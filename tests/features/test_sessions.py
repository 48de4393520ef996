"""Sessionization: splitting, acquisition, point-in-time history, dedupe, labels, windows, shape."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest

from core.errors import InvalidInput
from core.layout import StorageLayout
from features.sessions import SESSION_COLUMNS, build_sessions, empty_sessions
from tracking.lake import event_files

CLIENT = "shop"  # the client of the ``lake`` fixture


def sessions_of(layout: StorageLayout, **kwargs: Any) -> pd.DataFrame:
    return build_sessions(layout, CLIENT, **kwargs)


def test_a_gap_of_the_timeout_starts_a_new_session(layout: StorageLayout, lake: Any) -> None:
    lake.write([lake.hit(minutes=0), lake.hit(minutes=29), lake.hit(minutes=59), lake.hit(minutes=60)])

    default = sessions_of(layout)
    assert default["pageviews"].tolist() == [2, 2]  # 29 → 59 is a 30-minute gap
    assert default["duration_s"].tolist() == [29 * 60.0, 60.0]
    assert sessions_of(layout, timeout_minutes=31)["pageviews"].tolist() == [4]
    assert len(sessions_of(layout, timeout_minutes=5)) == 3


def test_a_hit_with_other_campaign_fields_starts_a_new_session(layout: StorageLayout, lake: Any) -> None:
    lake.write(
        [
            lake.hit(minutes=0, utm_source="google", utm_medium="cpc", utm_campaign="spring"),
            lake.hit(minutes=1),  # no campaign fields: stays
            lake.hit(minutes=2, utm_source="google", utm_medium="cpc", utm_campaign="spring", utm_content="b"),  # same
            lake.hit(minutes=3, utm_source="newsletter", utm_medium="email"),  # other campaign: new session
            lake.hit(minutes=4),
            lake.hit(minutes=5, utm_source="google", utm_medium="cpc", utm_campaign="spring"),  # back to the first: new
            lake.hit(lake.visitor_b, minutes=0),  # direct ...
            lake.hit(lake.visitor_b, minutes=1, campaign_id="c-9"),  # ... then a tagged hit: new session
            lake.hit(
                lake.visitor_b, minutes=2, campaign_id="c-9", creative_id="other"
            ),  # creative alone does not split
        ]
    )

    sessions = sessions_of(layout).sort_values(["visitor_id", "started_at"])
    a = sessions[sessions["visitor_id"] == lake.visitor_a]
    assert a["utm_source"].tolist() == ["google", "newsletter", "google"]
    assert a["events"].tolist() == [3, 2, 1]
    assert a["visitor_session_number"].tolist() == [1, 2, 3]
    b = sessions[sessions["visitor_id"] == lake.visitor_b]
    assert b["campaign_id"].isna().tolist() == [True, False]
    assert b["events"].tolist() == [1, 2]
    assert b["creative_id"].isna().all()


def test_acquisition_and_technical_fields_come_from_the_first_hit(layout: StorageLayout, lake: Any) -> None:
    lake.write(
        [
            lake.hit(
                minutes=0, path="/landing/page", referrer_host="news.example", browser_family="Firefox", region="FR-75"
            ),
            lake.hit(minutes=1, path="/cart", referrer_host="shop.example", browser_family="Chrome", region="DE-BE"),
            lake.hit(minutes=2, event_type="click", path="/cart"),
        ]
    )

    [session] = sessions_of(layout).to_dict("records")
    assert session["landing_path"] == "/landing/page"
    assert session["referrer_host"] == "news.example"
    assert session["browser_family"] == "Firefox"
    assert session["region"] == "FR-75"
    assert (session["pageviews"], session["clicks"], session["events"]) == (2, 1, 3)
    assert session["session_id"] == f"{lake.visitor_a}:1"
    assert session["started_at"] == pd.Timestamp(lake.t0)
    assert session["ended_at"] == pd.Timestamp(lake.t0 + timedelta(minutes=2))


def test_visitor_history_is_point_in_time(layout: StorageLayout, lake: Any) -> None:
    first_day = [
        lake.hit(minutes=0),
        lake.hit(minutes=120),
        lake.hit(minutes=125, event_type="goal", goal="purchase", value=30.0),
        lake.hit(minutes=126, event_type="goal", goal="purchase", value=20.0),
    ]
    lake.write(first_day)
    before = sessions_of(layout)
    # Later events, a conversion among them, must not change anything known about earlier sessions.
    lake.write(
        [
            lake.hit(minutes=24 * 60),
            lake.hit(minutes=24 * 60 + 5, event_type="goal", goal="signup"),
            lake.hit(minutes=3 * 24 * 60),
        ]
    )
    after = sessions_of(layout)

    pd.testing.assert_frame_equal(after.iloc[: len(before)].reset_index(drop=True), before)
    assert after["visitor_session_number"].tolist() == [1, 2, 3, 4]
    assert after["prev_sessions"].tolist() == [0, 1, 2, 3]
    assert after["prev_conversions"].tolist() == [0, 0, 2, 3]  # a session's own conversions are not history
    days = after["days_since_last_session"]
    assert pd.isna(days.iloc[0])
    assert days.iloc[1] == pytest.approx(120 / 1440)  # from the end of the previous session
    assert days.iloc[2] == pytest.approx((24 * 60 - 126) / 1440)


def test_retried_hits_count_once_and_the_first_received_copy_wins(layout: StorageLayout, lake: Any) -> None:
    original = lake.hit(minutes=0, path="/first")
    retry = {**original, "received_at": original["received_at"] + timedelta(seconds=5), "path": "/retry"}
    goal = lake.hit(minutes=1, event_type="goal", goal="purchase", value=10.0)
    lake.write([original, goal])
    retried_goal = {**goal, "received_at": goal["received_at"] + timedelta(seconds=2)}
    lake.write_unchecked([retry, retried_goal], date=original["ts"].strftime("%Y-%m-%d"))  # another file
    assert sum(pq.read_metadata(f).num_rows for f in event_files(layout, lake.client_id)) == 4

    [session] = sessions_of(layout).to_dict("records")
    assert session["events"] == 2
    assert session["pageviews"] == 1
    assert session["conversions"] == 1
    assert session["conversion_value"] == 10.0
    assert session["landing_path"] == "/first"


def test_labels(layout: StorageLayout, lake: Any) -> None:
    lake.write(
        [
            lake.hit(minutes=0),
            lake.hit(minutes=1, event_type="goal", goal="signup", value=None),
            lake.hit(minutes=2, event_type="goal", goal="purchase", value=49.5),
            lake.hit(minutes=3, event_type="goal", goal="purchase", value=0.5),
            lake.hit(lake.visitor_b, minutes=0),
            lake.hit(lake.visitor_b, minutes=1, event_type="custom"),
        ]
    )

    sessions = sessions_of(layout).set_index("visitor_id")
    assert sessions.loc[lake.visitor_a, ["converted", "conversions", "conversion_value", "goal"]].tolist() == [
        True,
        3,
        50.0,
        "signup",
    ]
    assert not sessions.loc[lake.visitor_b, "converted"]
    assert sessions.loc[lake.visitor_b, "conversions"] == 0
    assert sessions.loc[lake.visitor_b, "conversion_value"] == 0.0
    assert pd.isna(sessions.loc[lake.visitor_b, "goal"])
    assert sessions.loc[lake.visitor_b, "events"] == 2


def test_since_until_are_client_local_days_and_history_reaches_before_since(layout: StorageLayout, lake: Any) -> None:
    lake.write(
        [
            lake.hit(minutes=0),  # 2024-03-04 09:00 UTC = 04:00 in New York
            lake.hit(minutes=24 * 60),  # 2024-03-05 09:00 UTC
            lake.hit(ts=pd.Timestamp("2024-03-06T03:00Z").to_pydatetime()),  # 2024-03-05 22:00 in New York
            lake.hit(ts=pd.Timestamp("2024-03-06T06:00Z").to_pydatetime()),  # 2024-03-06 01:00 in New York
        ]
    )

    window = sessions_of(layout, timezone="America/New_York", since=date(2024, 3, 5), until=date(2024, 3, 5))
    assert window["started_at"].tolist() == [pd.Timestamp("2024-03-05T09:00Z"), pd.Timestamp("2024-03-06T03:00Z")]
    assert window["visitor_session_number"].tolist() == [2, 3]  # the session of 03-04 still counts
    everything = sessions_of(layout).set_index("session_id")
    assert window["session_id"].map(everything["prev_sessions"]).tolist() == window["prev_sessions"].tolist()
    assert len(sessions_of(layout, timezone="UTC", since=date(2024, 3, 5), until=date(2024, 3, 5))) == 1


def test_empty_window_and_empty_lake_give_the_same_shape(layout: StorageLayout, lake: Any) -> None:
    nothing = sessions_of(layout)
    lake.write([lake.hit(minutes=0), lake.hit(minutes=5, event_type="goal", value=1.0, goal="x")])
    some = sessions_of(layout)
    outside = sessions_of(layout, since=date(2030, 1, 1))

    assert len(nothing) == 0 and len(outside) == 0 and len(some) == 1
    assert tuple(nothing.columns) == SESSION_COLUMNS
    pd.testing.assert_series_equal(nothing.dtypes, some.dtypes)
    pd.testing.assert_series_equal(outside.dtypes, some.dtypes)
    pd.testing.assert_series_equal(empty_sessions().dtypes, some.dtypes)
    assert str(some["started_at"].dtype) == "datetime64[us, UTC]"
    assert some["pageviews"].dtype == "int64" and some["converted"].dtype == "bool"


def test_rows_of_another_client_in_the_folder_are_ignored(layout: StorageLayout, lake: Any) -> None:
    folder = layout.client_events_dir(CLIENT) / "date=2024-03-04"
    folder.mkdir(parents=True)
    pq.write_table(
        lake.table([lake.hit(minutes=0), lake.hit(lake.visitor_b, minutes=0, client_id="other")]),
        folder / "mixed.parquet",
    )

    assert sessions_of(layout)["visitor_id"].tolist() == [lake.visitor_a]


def test_bad_arguments_are_invalid(layout: StorageLayout) -> None:
    with pytest.raises(InvalidInput, match="after until"):
        sessions_of(layout, since=date(2024, 3, 5), until=date(2024, 3, 4))
    with pytest.raises(InvalidInput, match="time zone"):
        sessions_of(layout, timezone="Mars/Olympus")
    with pytest.raises(InvalidInput, match="at least 1 minute"):
        sessions_of(layout, timeout_minutes=0)
