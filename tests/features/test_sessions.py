"""Sessionization: splitting, acquisition, point-in-time history, dedupe, labels, windows, shape."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.layout import StorageLayout
from features.goals import GoalDefinition
from features.session_schema import SCORING_COLUMNS
from features.sessions import SESSION_COLUMNS, build_sessions, empty_sessions
from tracking.lake import event_files

CLIENT = "shop"  # the client of the ``lake`` fixture
EVENT_KINDS = ("pageview", "click", "goal", "custom")


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


def test_midnight_in_the_clients_zone_splits_a_session_when_asked(layout: StorageLayout, lake: Any) -> None:
    # 22:50 and 23:10 UTC on 2024-03-04 are 23:50 and 00:10 in Berlin: one visit across local midnight.
    start = lake.t0.replace(hour=22, minute=50)
    lake.write([lake.hit(ts=start), lake.hit(ts=start + timedelta(minutes=20))])

    assert len(sessions_of(layout, timezone="Europe/Berlin")) == 1
    assert len(sessions_of(layout, timezone="UTC", split_at_midnight=True)) == 1  # UTC midnight not crossed
    split = sessions_of(layout, timezone="Europe/Berlin", split_at_midnight=True)
    assert split["visitor_session_number"].tolist() == [1, 2]
    assert split["prev_sessions"].tolist() == [0, 1]


def test_the_clients_goal_definitions_decide_what_converts(layout: StorageLayout, lake: Any) -> None:
    lake.write(
        [
            lake.hit(minutes=0, path="/pricing"),
            lake.hit(minutes=1, event_type="goal", goal="purchase", value=20.0),  # below the minimum
            lake.hit(minutes=2, event_type="goal", goal="newsletter-signup"),
            lake.hit(lake.visitor_b, minutes=0),
            lake.hit(lake.visitor_b, minutes=1, event_type="goal", goal="purchase", value=80.0),
        ]
    )
    goals = (
        GoalDefinition.create("big-purchase", match="purchase", min_value=50.0),
        GoalDefinition.create("pricing-view", event_type="pageview", path="/pricing"),
    )

    by_visitor = sessions_of(layout, goals=goals).set_index("visitor_id")
    a, b = by_visitor.loc[lake.visitor_a], by_visitor.loc[lake.visitor_b]
    assert (a["conversions"], a["goal"], a["conversion_value"]) == (1, "pricing-view", 0.0)
    assert (b["conversions"], b["goal"], b["conversion_value"]) == (1, "big-purchase", 80.0)
    default = sessions_of(layout).set_index("visitor_id")  # no definitions: every goal event
    assert default.loc[lake.visitor_a, "conversions"] == 2 and default.loc[lake.visitor_a, "goal"] == "purchase"


def test_an_attribution_window_labels_sessions_by_later_conversions(layout: StorageLayout, lake: Any) -> None:
    day = 24 * 60
    lake.write(
        [
            lake.hit(minutes=0),  # session 1
            lake.hit(minutes=2 * day),  # session 2
            lake.hit(minutes=2 * day + 1, event_type="goal", goal="purchase", value=40.0),
            lake.hit(minutes=9 * day),  # session 3: nothing after it
        ]
    )

    own = sessions_of(layout)
    assert own["window_conversions"].tolist() == own["conversions"].tolist() == [0, 1, 0]
    three = sessions_of(layout, attribution_window_days=3)
    assert three["window_conversions"].tolist() == [1, 1, 0]
    assert three["window_conversion_value"].tolist() == [40.0, 40.0, 0.0]
    assert three["converted"].tolist() == [False, True, False]  # the session's own label is unchanged
    one = sessions_of(layout, attribution_window_days=1)
    assert one["window_conversions"].tolist() == [0, 1, 0]
    # The window looks past ``until``: the lake is read far enough ahead.
    upto = sessions_of(layout, attribution_window_days=3, until=lake.t0.date())
    assert upto["window_conversions"].tolist() == [1]


def test_unusable_events_are_left_out(layout: StorageLayout, lake: Any) -> None:
    lake.write(
        [
            lake.hit(minutes=0),
            lake.hit(minutes=1, ts=lake.t0 + timedelta(days=2), received_at=lake.t0),  # clock two days ahead
            dict(lake.hit(minutes=2, event_type="goal", goal="purchase"), event_type="teleport"),
        ]
    )
    [session] = sessions_of(layout).to_dict("records")
    assert session["events"] == 1 and session["conversions"] == 0


@given(
    future=st.lists(st.tuples(st.integers(0, 2), st.floats(0, 3 * 24 * 60), st.sampled_from(EVENT_KINDS)), max_size=12)
)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_leakage_events_after_a_cutoff_never_change_earlier_features(
    layout: StorageLayout, lake: Any, future: list[tuple[int, float, str]]
) -> None:
    """Whatever happens after the cutoff, the sessions that ended before it keep their features."""
    visitors = [lake.visitor_a, lake.visitor_b, "visitorCCCCCCCCCCCCCCCC03"]
    for path in event_files(layout, lake.client_id):
        path.unlink()
    past = [lake.hit(v, minutes=m) for v in visitors for m in (0, 5, 100, 101)]
    past.append(lake.hit(visitors[0], minutes=102, event_type="goal", goal="purchase", value=5.0))
    lake.write(past)
    cutoff = lake.t0 + timedelta(minutes=102 + 30)
    before = sessions_of(layout)
    lake.write(
        [
            lake.hit(
                visitors[v], ts=cutoff + timedelta(minutes=m), event_type=kind, goal="purchase", campaign_id="late"
            )
            for v, m, kind in future
        ]
    )
    after = sessions_of(layout)
    features = ["session_id", *SCORING_COLUMNS, "converted", "conversions"]
    earlier = after[after["started_at"] < cutoff].reset_index(drop=True)
    pd.testing.assert_frame_equal(earlier[features], before[features])


def test_engagement_counts_only_what_happened_before_the_first_conversion(layout: StorageLayout, lake: Any) -> None:
    lake.write(
        [
            lake.hit(minutes=0),
            lake.hit(minutes=2, event_type="click"),
            lake.hit(minutes=3, event_type="goal", goal="purchase", value=10.0),
            lake.hit(minutes=9),  # after converting: not engagement that predicts the conversion
            lake.hit(minutes=12, event_type="click"),
            lake.hit(lake.visitor_b, minutes=0, event_type="goal", goal="signup"),  # converts on its first hit
            lake.hit(lake.visitor_b, minutes=4),
        ]
    )
    by_visitor = sessions_of(layout).set_index("visitor_id")
    a, b = by_visitor.loc[lake.visitor_a], by_visitor.loc[lake.visitor_b]
    assert (a["pageviews"], a["clicks"], a["duration_s"]) == (1, 1, 120.0)
    assert a["events"] == 5 and a["ended_at"] - a["started_at"] == pd.Timedelta(minutes=12)
    assert (b["pageviews"], b["clicks"], b["duration_s"], b["events"]) == (0, 0, 0.0, 2)
