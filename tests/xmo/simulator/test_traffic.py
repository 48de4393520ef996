"""Traffic: deterministic, with real patterns (creative × device, spend response, behaviour), recoverable sessions."""

from __future__ import annotations

from datetime import date
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pandas as pd
import pytest

from tracking.events import RAW_BOOL_COLUMNS, RAW_FLOAT_COLUMNS, RAW_STRING_COLUMNS
from xmo.simulator.traffic import Traffic, simulate
from xmo.simulator.world import World, build_world

THIRTY_MINUTES = pd.Timedelta(minutes=30)


@pytest.fixture(scope="module")
def big_traffic() -> Traffic:
    """About 170k sessions: enough for the patterns to show through the noise."""
    return simulate(build_world(seed=8, days=28, visitors_per_day=6000, start=date(2026, 9, 1)))


def test_same_seed_same_sessions_and_hits(small_world: World, small_traffic: Traffic) -> None:
    again = simulate(small_world, client_id="sim-shop", domain="shop.example.com")
    pd.testing.assert_frame_equal(again.sessions, small_traffic.sessions)
    pd.testing.assert_frame_equal(again.hits, small_traffic.hits)
    pd.testing.assert_frame_equal(again.spend, small_traffic.spend)


def test_another_seed_gives_other_hits(small_world: World, small_traffic: Traffic) -> None:
    other = simulate(
        build_world(12, small_world.days, small_world.visitors_per_day, small_world.start),
        client_id="sim-shop",
        domain="shop.example.com",
    )
    assert not set(other.hits["event_id"]) & set(small_traffic.hits["event_id"])
    assert not set(other.hits["visitor_id"]) & set(small_traffic.hits["visitor_id"])
    assert len(other.sessions) != len(small_traffic.sessions) or not other.sessions["true_p"].equals(
        small_traffic.sessions["true_p"]
    )


def test_hits_are_in_the_edges_raw_format(small_traffic: Traffic) -> None:
    hits = small_traffic.hits
    assert set(hits.columns) == {*RAW_STRING_COLUMNS, *RAW_BOOL_COLUMNS, *RAW_FLOAT_COLUMNS, "ts"}
    assert all(hits[c].dtype == object for c in RAW_STRING_COLUMNS)
    assert str(hits["ts"].dtype) == "datetime64[us, UTC]"
    assert hits["visitor_id"].str.fullmatch(r"[0-9a-f]{32}").all()
    assert hits["event_id"].str.fullmatch(r"[0-9a-f]{32}").all() and hits["event_id"].is_unique
    assert (hits["client_id"] == "sim-shop").all() and (hits["source"] == "simulator").all()
    assert hits["url"].str.startswith("https://shop.example.com/").all()
    assert set(hits["event_type"]) == {"pageview", "click", "goal"}
    assert hits["region"].str.fullmatch(r"(Europe|America|Asia|Australia)/[A-Za-z_]+").all()


def test_chunks_are_slices_of_the_whole(small_traffic: Traffic) -> None:
    chunks = list(small_traffic.hit_chunks(1000))
    assert [len(c) for c in chunks[:-1]] == [1000] * (len(chunks) - 1)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), small_traffic.hits)


def test_hits_agree_with_the_session_truth(small_traffic: Traffic) -> None:
    hits, sessions = small_traffic.hits, small_traffic.sessions
    session = small_traffic.hit_arrays.session
    pageviews = np.bincount(session[hits["event_type"].to_numpy() == "pageview"], minlength=len(sessions))
    assert (pageviews == sessions["pageviews"].to_numpy()).all()
    goals = hits[hits["event_type"] == "goal"]
    goal_sessions = session[goals.index.to_numpy()]
    truth = sessions.iloc[goal_sessions]
    assert len(goals) == sessions["converted"].sum() and truth["converted"].all()
    assert (goals["goal"].to_numpy() == truth["goal"].astype(object).to_numpy()).all()
    purchases = goals["goal"] == "purchase"
    assert np.allclose(goals.loc[purchases, "value"].to_numpy(), truth.loc[purchases.to_numpy(), "value"].to_numpy())
    assert (goals.loc[purchases, "currency"] == "EUR").all() and goals.loc[~purchases, "value"].isna().all()


def test_campaign_landings_carry_utm_and_ids_organic_search_comes_from_engines(small_traffic: Traffic) -> None:
    hits, sessions = small_traffic.hits, small_traffic.sessions
    first = np.cumsum(sessions["hits"].to_numpy()) - sessions["hits"].to_numpy()
    landing = hits.iloc[first].reset_index(drop=True)
    paid = sessions["campaign_id"].notna().to_numpy()
    for url, campaign, creative in zip(
        landing.loc[paid, "url"], sessions.loc[paid, "campaign_id"], sessions.loc[paid, "creative_id"], strict=True
    ):
        query = parse_qs(urlsplit(url).query)
        assert query["cid"] == [campaign] and query["crid"] == [creative] and query["utm_source"]
    organic = (sessions["channel"] == "organic_search").to_numpy()
    assert set(landing.loc[organic, "referrer"]) <= {"https://www.google.com/", "https://www.bing.com/"}
    direct = (sessions["channel"] == "direct").to_numpy()
    assert landing.loc[direct, "referrer"].isna().all()
    assert not landing.loc[organic | direct, "url"].str.contains("cid=").any()


def test_sessions_are_recoverable_with_a_30_minute_timeout(small_traffic: Traffic) -> None:
    hits, sessions = small_traffic.hits, small_traffic.sessions
    session = small_traffic.hit_arrays.session
    ts = hits["ts"].dt.tz_convert(None).to_numpy()
    same = session[1:] == session[:-1]
    gaps = ts[1:][same] - ts[:-1][same]
    assert (gaps > np.timedelta64(0)).all() and (gaps < np.timedelta64(30, "m")).all()
    # sessionize as the feature pipeline would: per visitor in time order, a new session after 30 minutes
    order = np.lexsort((ts, hits["visitor_id"].to_numpy()))
    visitor, t = hits["visitor_id"].to_numpy()[order], ts[order]
    new = np.r_[True, (visitor[1:] != visitor[:-1]) | (t[1:] - t[:-1] > np.timedelta64(30, "m"))]
    recovered = np.cumsum(new)
    assert new.sum() == len(sessions)
    assert pd.crosstab(recovered, session[order]).gt(0).sum(axis=1).eq(1).all(), "one recovered = one true session"


def test_visitors_never_overlap_nor_come_twice_a_day(small_traffic: Traffic) -> None:
    sessions = small_traffic.sessions.sort_values(["visitor_id", "session_start"])
    start_hours = sessions["session_start"].dt.hour + sessions["session_start"].dt.minute / 60
    assert start_hours.between(5, 22.5).all()
    assert not sessions.duplicated(["visitor_id", "day"]).any()
    following = sessions.groupby("visitor_id")["session_start"].shift(-1)
    assert ((following - sessions["session_end"]).dropna() > THIRTY_MINUTES).all()
    returning = sessions[sessions["is_returning"]]
    assert len(returning) > 0.2 * len(sessions)
    first_visit = sessions.groupby("visitor_id")["day"].transform("min")
    assert (returning["day"] > first_visit[returning.index]).all()
    assert not sessions.loc[sessions["day"] == first_visit, "is_returning"].any()


def test_traffic_volume_bots_and_privacy_signals(small_world: World, small_traffic: Traffic) -> None:
    sessions = small_traffic.sessions
    expected = small_world.days * small_world.visitors_per_day
    assert abs(len(sessions) - expected) < 4 * np.sqrt(expected)
    bots = sessions[sessions["bot"]]
    assert 0 < len(bots) < 0.06 * len(sessions)
    assert (bots["true_p"] == 0).all() and not bots["converted"].any() and (bots["device_class"] == "bot").all()
    assert not (bots["consent"] | bots["opted_out"] | bots["gpc"]).any()
    for flag in ("opted_out", "gpc", "consent", "dnt", "has_email", "has_member_id"):
        assert 0 < sessions[flag].mean() < 0.7, flag


def test_best_creative_per_campaign_and_device_converts_best(big_traffic: Traffic) -> None:
    sessions = big_traffic.sessions
    sessions = sessions[sessions["campaign_id"].notna() & sessions["device_class"].isin(["desktop", "mobile"])]
    best = big_traffic.world.best_creatives()
    is_best = np.array(
        [
            best[c][d] == cr
            for c, d, cr in zip(sessions["campaign_id"], sessions["device_class"], sessions["creative_id"], strict=True)
        ]
    )
    agree = cells = 0
    for (campaign, device), cell in sessions.groupby(["campaign_id", "device_class"], observed=True):
        rates = cell.groupby("creative_id", observed=True)["converted"].mean()
        cells += 1
        agree += rates.idxmax() == best[str(campaign)][str(device)]
    assert cells == 2 * len(big_traffic.world.campaigns)
    assert agree >= cells - 2, f"the truth's best creative converts best in only {agree} of {cells} cells"
    rate_best, rate_rest = sessions["converted"][is_best].mean(), sessions["converted"][~is_best].mean()
    pooled = sessions["converted"].mean()
    z = (rate_best - rate_rest) / np.sqrt(pooled * (1 - pooled) * (1 / is_best.sum() + 1 / (~is_best).sum()))
    assert z > 8, (rate_best, rate_rest)


def test_campaign_traffic_rises_with_spend_and_saturates(big_traffic: Traffic) -> None:
    world, sessions = big_traffic.world, big_traffic.sessions
    per_day = sessions.groupby(["campaign_id", "day"], observed=True).size().unstack(fill_value=0)
    for campaign in world.campaigns:
        visits = per_day.loc[campaign.id].reindex(range(world.days), fill_value=0).to_numpy()
        adstock = campaign.response.adstock(np.asarray(campaign.daily_spend))
        low, high = adstock <= np.quantile(adstock, 1 / 3), adstock >= np.quantile(adstock, 2 / 3)
        traffic_ratio = visits[high].mean() / visits[low].mean()
        spend_ratio = adstock[high].mean() / adstock[low].mean()
        assert traffic_ratio > 1.05, f"{campaign.id}: more spend brings no more sessions"
        assert traffic_ratio < spend_ratio, f"{campaign.id}: sessions grow as fast as spend (no saturation)"
        expected = campaign.expected_sessions()
        residuals = (visits - expected) / np.sqrt(np.maximum(expected, 1.0))
        assert abs(residuals.mean()) < 1 and residuals.std() < 1.5, f"{campaign.id} strays from its response curve"


def test_engagement_and_returning_visitors_raise_conversion(big_traffic: Traffic) -> None:
    humans = big_traffic.sessions[~big_traffic.sessions["bot"]]
    by_pageviews = humans.groupby(humans["pageviews"].clip(upper=5))["converted"].mean()
    assert by_pageviews.is_monotonic_increasing and by_pageviews[5] > 2 * by_pageviews[1]
    by_returning = humans.groupby("is_returning")["converted"].mean()
    assert by_returning[True] > 1.2 * by_returning[False]
    assert humans["true_p"].between(0, 1).all()
    calibration = humans.groupby(pd.qcut(humans["true_p"], 5))[["true_p", "converted"]].mean()
    assert np.allclose(calibration["converted"], calibration["true_p"], rtol=0.15), calibration
