"""Touchpoint paths: journey cuts, lookback, cap, order independence, no visitor ids, path counts, real sessions."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.errors import InvalidInput
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Tenants
from features.channels import CHANNELS
from features.paths import PATH_COLUMNS, PATH_COUNT_COLUMNS, empty_paths, path_counts, touchpoint_paths
from features.sessions import build_sessions, empty_sessions
from tracking.collector import Collector
from tracking.compactor import compact_all
from xmo.simulator.runner import ingest_traffic
from xmo.simulator.traffic import simulate
from xmo.simulator.world import build_world

T0 = pd.Timestamp("2024-03-04 09:00", tz="UTC")
VISITOR_A = "visitorAAAAAAAAAAAAAAAA01"
VISITOR_B = "visitorBBBBBBBBBBBBBBBB02"
# Acquisition fields of a few sessions, by the channel they give.
SEARCH = {"utm_source": "google", "utm_medium": "cpc", "campaign_id": "c-search", "creative_id": "ad-1"}
EMAIL = {"utm_source": "newsletter", "utm_medium": "email", "campaign_id": "c-mail"}
SOCIAL = {"referrer_host": "www.facebook.com"}
DIRECT: dict[str, Any] = {}


def session(
    visitor: str, hours: float, fields: dict[str, Any], value: float | None = None, *, minutes: int = 0
) -> dict[str, Any]:
    """A session row ``hours`` and ``minutes`` after ``T0``; converting (with ``value``) when a value is given."""
    return {
        "session_id": f"{visitor}:{hours}",
        "visitor_id": visitor,
        "started_at": T0 + pd.Timedelta(hours=hours, minutes=minutes),
        "converted": value is not None,
        "conversions": int(value is not None),
        "conversion_value": value or 0.0,
        **fields,
    }


def frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A session frame with the dtypes of ``build_sessions`` holding ``rows`` (unset strings missing, counts 0)."""
    empty = empty_sessions()
    filled = pd.DataFrame(rows, columns=empty.columns)
    for column, dtype in empty.dtypes.items():
        if dtype == "int64" or dtype == "float64":
            filled[column] = filled[column].fillna(0)
    filled["converted"] = filled["converted"].fillna(False)
    return filled.astype(empty.dtypes.to_dict())


def test_two_conversions_give_two_converting_journeys_and_a_trailing_one() -> None:
    sessions = frame(
        [
            session(VISITOR_A, 0, SEARCH),
            session(VISITOR_A, 1, DIRECT, value=20.0),
            session(VISITOR_A, 30, EMAIL, value=7.5),
            session(VISITOR_A, 50, SOCIAL),
            session(VISITOR_A, 60, DIRECT),
        ]
    )

    paths = touchpoint_paths(sessions)

    assert list(paths.columns) == list(PATH_COLUMNS)
    assert paths["journey_id"].tolist() == [0, 1, 2]
    assert paths["channels"].tolist() == [["search", "direct"], ["email"], ["social", "direct"]]
    assert paths["campaigns"].tolist() == [["c-search", "<direct>"], ["c-mail"], ["<social>", "<direct>"]]
    assert paths["creatives"].tolist() == [["ad-1", None], [None], [None, None]]
    assert paths["converted"].tolist() == [True, True, False]
    assert paths["conversion_value"].tolist() == [20.0, 7.5, 0.0]
    assert paths["touchpoints"].tolist() == [2, 1, 2]
    assert paths["touch_times"][0] == [T0, T0 + pd.Timedelta(hours=1)]
    assert all(isinstance(t, pd.Timestamp) and str(t.tz) == "UTC" for t in paths["touch_times"][2])
    assert paths["conversion_at"][0] == T0 + pd.Timedelta(hours=1)
    assert paths["conversion_at"][1] == T0 + pd.Timedelta(hours=30)
    assert pd.isna(paths["conversion_at"][2])
    assert paths.dtypes.to_dict() == empty_paths().dtypes.to_dict()


def test_a_visitor_whose_last_session_converted_has_no_trailing_journey() -> None:
    paths = touchpoint_paths(frame([session(VISITOR_A, 0, SEARCH), session(VISITOR_A, 2, EMAIL, value=1.0)]))
    assert paths["converted"].tolist() == [True]
    assert paths["channels"].tolist() == [["search", "email"]]


def test_lookback_drops_touchpoints_older_than_the_window() -> None:
    days = 24.0
    sessions = frame(
        [
            session(VISITOR_A, 0, SEARCH),  # 10 days + 1 hour before the conversion: dropped
            session(VISITOR_A, 1, EMAIL),  # exactly 10 days before: kept
            session(VISITOR_A, 5 * days, SOCIAL),
            session(VISITOR_A, 10 * days + 1, DIRECT, value=3.0),
            session(VISITOR_B, 0, SEARCH),  # non-converting journey: measured from its last session
            session(VISITOR_B, 40 * days, DIRECT),
        ]
    )

    paths = touchpoint_paths(sessions, lookback_days=10).set_index("converted")
    assert paths.loc[True, "channels"] == ["email", "social", "direct"]
    assert paths.loc[True, "touchpoints"] == 3
    assert paths.loc[False, "channels"] == ["direct"]
    assert touchpoint_paths(sessions, lookback_days=11).set_index("converted").loc[True, "touchpoints"] == 4
    assert touchpoint_paths(sessions, lookback_days=41)["touchpoints"].sum() == len(sessions)


def test_max_touchpoints_keeps_the_latest() -> None:
    sessions = frame(
        [
            session(VISITOR_A, 0, SEARCH),
            session(VISITOR_A, 1, EMAIL),
            session(VISITOR_A, 2, SOCIAL),
            session(VISITOR_A, 3, DIRECT, value=9.0),
        ]
    )

    [row] = touchpoint_paths(sessions, max_touchpoints=2).to_dict("records")
    assert row["channels"] == ["social", "direct"]
    assert row["touch_times"] == [T0 + pd.Timedelta(hours=2), T0 + pd.Timedelta(hours=3)]
    assert (row["touchpoints"], row["converted"], row["conversion_value"]) == (2, True, 9.0)
    assert touchpoint_paths(sessions, max_touchpoints=1)["channels"].tolist() == [["direct"]]


def mixed_sessions() -> pd.DataFrame:
    """Two visitors whose sessions interleave in time, with conversions, ties and a trailing journey each."""
    return frame(
        [
            session(VISITOR_A, 0, SEARCH),
            session(VISITOR_B, 0, SEARCH),  # same time and content as A's first
            session(VISITOR_B, 1, SOCIAL, value=4.0),
            session(VISITOR_A, 2, EMAIL),
            session(VISITOR_A, 3, DIRECT, value=11.0),
            session(VISITOR_B, 4, EMAIL),
            session(VISITOR_A, 5, SOCIAL),
            session(VISITOR_B, 6, DIRECT, value=2.0),
            session(VISITOR_A, 7, SEARCH),
        ]
    )


def test_sessions_out_of_order_give_the_same_result() -> None:
    sessions = mixed_sessions()
    expected = touchpoint_paths(sessions)
    for seed in range(5):
        shuffled = sessions.sample(frac=1.0, random_state=seed)
        shuffled.index = np.random.default_rng(seed).permutation(len(shuffled)) + 100
        pd.testing.assert_frame_equal(touchpoint_paths(shuffled), expected)


def test_journeys_never_mix_visitors() -> None:
    paths = touchpoint_paths(mixed_sessions())

    # In time order the sessions alternate between A and B; each journey holds one visitor's only.
    assert paths["channels"].tolist() == [
        ["search", "social"],  # B, converts at hour 1
        ["search", "email", "direct"],  # A, converts at hour 3
        ["email", "direct"],  # B, converts at hour 6
        ["social", "search"],  # A, after its conversion, hour 7
    ]
    assert paths["touch_times"][1] == [T0 + pd.Timedelta(hours=h) for h in (0, 2, 3)]
    assert paths["converted"].tolist() == [True, True, True, False]
    assert paths["conversion_value"].tolist() == [4.0, 11.0, 2.0, 0.0]


def test_no_visitor_id_appears_in_the_output() -> None:
    sessions = mixed_sessions()
    paths = touchpoint_paths(sessions)

    assert not {"visitor_id", "session_id"} & set(paths.columns)
    assert list(paths.index) == list(range(len(paths)))
    text = repr(paths.to_dict("list")) + repr(path_counts(paths).to_dict("list"))
    text += repr(path_counts(paths, by="campaigns").to_dict("list"))
    assert VISITOR_A not in text and VISITOR_B not in text and "visitor" not in text
    # Journey ids follow the journeys' content, not the visitors: other ids give the same frame.
    renamed = sessions.assign(visitor_id=sessions["visitor_id"].map({VISITOR_A: "zzz", VISITOR_B: "aaa"}))
    pd.testing.assert_frame_equal(touchpoint_paths(renamed), paths)


def test_same_instant_sessions_follow_the_visitor_session_number() -> None:
    rows = [session(VISITOR_A, 0, SEARCH, value=1.0), session(VISITOR_A, 0, EMAIL)]
    sessions = frame(rows).assign(visitor_session_number=[2, 1])
    assert touchpoint_paths(sessions)["channels"].tolist() == [["email", "search"]]
    assert touchpoint_paths(sessions.drop(columns="visitor_session_number"))["converted"].tolist() == [True]


def test_path_counts_sum_to_the_journeys() -> None:
    paths = touchpoint_paths(mixed_sessions())

    for by in ("channels", "campaigns"):
        counts = path_counts(paths, by=by)
        assert list(counts.columns) == list(PATH_COUNT_COLUMNS)
        assert counts["journeys"].sum() == len(paths)
        assert counts["conversions"].sum() == paths["converted"].sum()
        assert counts["conversion_value"].sum() == pytest.approx(paths["conversion_value"].sum())
        assert set(counts["path"]) == {tuple(p) for p in paths[by]}
        assert counts["journeys"].is_monotonic_decreasing
        assert all(isinstance(p, tuple) for p in counts["path"])
    rows = {row["path"]: row for row in path_counts(path_counts_input()).to_dict("records")}
    assert (rows[("search", "email")]["journeys"], rows[("search", "email")]["conversions"]) == (2, 2)
    assert rows[("search", "email")]["conversion_value"] == 15.0
    assert (rows[("search", "email", "direct")]["conversions"], rows[("direct",)]["conversions"]) == (1, 0)
    assert path_counts(path_counts_input())["path"].tolist() == [
        ("search", "email"),  # most journeys first, then by path
        ("direct",),
        ("search",),
        ("search", "email", "direct"),
    ]


def path_counts_input() -> pd.DataFrame:
    """Five journeys of three visitors over four distinct channel paths, one of them taken twice."""
    return touchpoint_paths(
        frame(
            [
                *(session(v, 0, SEARCH) for v in (VISITOR_A, VISITOR_B, "visitorC")),
                session(VISITOR_A, 1, EMAIL, value=10.0),
                session(VISITOR_B, 1, EMAIL, value=5.0),
                session("visitorC", 1, EMAIL),
                session(VISITOR_A, 2, DIRECT),
                session(VISITOR_B, 2, SEARCH),
                session("visitorC", 2, DIRECT, value=1.0),
            ]
        )
    )


def test_empty_input_gives_an_empty_frame_with_the_documented_columns() -> None:
    paths = touchpoint_paths(empty_sessions())
    assert paths.empty and list(paths.columns) == list(PATH_COLUMNS)
    assert paths.dtypes.to_dict() == empty_paths().dtypes.to_dict()
    assert str(paths["conversion_at"].dtype) == "datetime64[us, UTC]"
    counts = path_counts(paths)
    assert counts.empty and list(counts.columns) == list(PATH_COUNT_COLUMNS)


def test_bad_input_is_refused_with_clear_messages() -> None:
    sessions = mixed_sessions()
    with pytest.raises(InvalidInput, match=r"lacks the column\(s\) campaign_id, converted"):
        touchpoint_paths(sessions.drop(columns=["converted", "campaign_id"]))
    with pytest.raises(InvalidInput, match="lookback_days must be an integer of at least 1"):
        touchpoint_paths(sessions, lookback_days=0)
    with pytest.raises(InvalidInput, match="max_touchpoints must be an integer of at least 1"):
        touchpoint_paths(sessions, max_touchpoints=0)
    with pytest.raises(InvalidInput, match="started_at has missing values"):
        touchpoint_paths(
            sessions.assign(started_at=pd.Series(pd.NaT, index=sessions.index, dtype="datetime64[us, UTC]"))
        )
    paths = touchpoint_paths(sessions)
    with pytest.raises(InvalidInput, match="by must be one of channels, campaigns"):
        path_counts(paths, by="creatives")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="lacks the column"):
        path_counts(paths.drop(columns="converted"))


FIELDS_BY_CHANNEL = {"search": SEARCH, "email": EMAIL, "social": SOCIAL, "direct": DIRECT}
touch = st.tuples(
    st.sampled_from(["v1", "v2", "v3"]),
    st.integers(min_value=0, max_value=60 * 24 * 90),  # minutes after T0
    st.sampled_from(sorted(FIELDS_BY_CHANNEL)),
    st.booleans(),
)


@given(st.lists(touch, max_size=40, unique_by=lambda t: (t[0], t[1])))
@hypothesis_settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_session_is_in_exactly_one_journey(touches: list[tuple[str, int, str, bool]]) -> None:
    sessions = frame(
        [
            session(v, 0, FIELDS_BY_CHANNEL[channel], 1.0 if converted else None, minutes=m)
            for v, m, channel, converted in touches
        ]
    )

    paths = touchpoint_paths(sessions, lookback_days=10_000, max_touchpoints=10_000)

    assert paths["converted"].sum() == sessions["converted"].sum()
    assert paths["touchpoints"].sum() == len(sessions)
    assert paths["journey_id"].tolist() == list(range(len(paths)))
    in_journeys = Counter(
        touchpoint
        for row in paths.to_dict("records")
        for touchpoint in zip(row["touch_times"], row["channels"], row["campaigns"], strict=True)
    )
    expected = Counter(
        (T0 + pd.Timedelta(minutes=m), channel, FIELDS_BY_CHANNEL[channel].get("campaign_id", f"<{channel}>"))
        for _, m, channel, _ in touches
    )
    assert in_journeys == expected
    assert (~paths["converted"]).sum() <= len({v for v, _, _, _ in touches})  # one trailing journey at most
    assert all(times == sorted(times) for times in paths["touch_times"])


def test_paths_of_simulated_sessions_keep_their_invariants(settings: Settings) -> None:
    client = "sim-shop"
    tenants = Tenants.from_settings(settings)
    tenants.create_client("Sim Shop", ["shop.example.com"], client_id=client)
    collector = Collector.from_settings(settings, tenants)
    start = datetime.now(UTC).date() - timedelta(days=10)
    traffic = simulate(build_world(seed=5, days=10, visitors_per_day=120, start=start), client, "shop.example.com")
    ingest_traffic(traffic, collector)
    collector.spool.close()
    compact_all(settings)
    sessions = build_sessions(StorageLayout.from_settings(settings), client)
    assert len(sessions) > 100 and sessions["converted"].any()
    assert (sessions.groupby("visitor_id").size() > 1).any(), "returning visitors make multi-touch journeys"

    everything = touchpoint_paths(sessions, lookback_days=365, max_touchpoints=10_000)
    assert everything["touchpoints"].sum() == len(sessions)
    assert everything["converted"].sum() == sessions["converted"].sum()
    assert everything["conversion_value"].sum() == pytest.approx(
        sessions.loc[sessions["converted"], "conversion_value"].sum()
    )
    assert (everything["touchpoints"] > 1).any()

    paths = touchpoint_paths(sessions, lookback_days=3, max_touchpoints=4)
    assert paths["journey_id"].tolist() == list(range(len(paths)))
    assert len(paths) == len(everything) and paths["converted"].sum() == everything["converted"].sum()
    assert paths["touchpoints"].between(1, 4).all()
    assert (paths["touchpoints"] == paths["channels"].map(len)).all()
    assert (paths["touchpoints"] == paths["campaigns"].map(len)).all()
    campaign_ids = set(sessions["campaign_id"].dropna())
    for row in paths.to_dict("records"):
        times = row["touch_times"]
        assert set(row["channels"]) <= set(CHANNELS)
        assert all(c in campaign_ids or c == f"<{ch}>" for c, ch in zip(row["campaigns"], row["channels"], strict=True))
        assert times == sorted(times)
        assert times[-1] - times[0] <= pd.Timedelta(days=3)
        if row["converted"]:
            assert row["conversion_at"] == times[-1]
        else:
            assert pd.isna(row["conversion_at"]) and row["conversion_value"] == 0.0
    assert campaign_ids & {c for cs in paths["campaigns"] for c in cs}, "paid campaigns reach the paths"
    text = repr(paths.to_dict("list"))
    assert not any(v in text for v in sessions["visitor_id"].unique())
    counts = path_counts(paths, by="campaigns")
    assert counts["journeys"].sum() == len(paths)
    assert counts["conversions"].sum() == paths["converted"].sum()
