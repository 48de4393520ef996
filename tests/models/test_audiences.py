"""Audience ranking: Wilson intervals that cover, segments found by their predicted rate, the k floor, and
suggestions that need size and are not contradicted by the data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from core.errors import InvalidInput, NotReady
from models.audiences import AudienceRanker


def scored(n: int, rates: dict[str, float], seed: int = 0, share: dict[str, float] | None = None) -> pd.DataFrame:
    """Sessions whose device class sets the true (and, here, predicted) conversion probability."""
    rng = np.random.default_rng(seed)
    names = list(rates)
    weights = np.array([(share or {}).get(name, 1.0) for name in names])
    device = rng.choice(names, n, p=weights / weights.sum())
    p = np.array([rates[d] for d in device])
    converted = rng.random(n) < p
    return pd.DataFrame(
        {
            "device_class": device,
            "channel": rng.choice(["search", "social"], n),
            "probability": p,
            "converted": converted,
            "conversion_value": np.where(converted, 40.0, 0.0),
            "visitor_id": [f"v{i}" for i in range(n)],
        }
    )


DIMENSIONS = (("device_class",), ("channel",), ("device_class", "channel"))


def test_observed_intervals_cover_the_true_rate() -> None:
    covered = 0
    replications = 300
    for seed in range(replications):
        data = scored(600, {"desktop": 0.06, "mobile": 0.02}, seed=seed)
        row = AudienceRanker(dimensions=[("device_class",)]).fit(data).segments_.set_index("segment").loc["desktop"]
        covered += row["observed_rate_low"] <= 0.06 <= row["observed_rate_high"]
    assert 0.92 <= covered / replications <= 0.985


def test_ranks_segments_and_suggests_bid_up_and_exclude() -> None:
    data = scored(20_000, {"desktop": 0.06, "mobile": 0.03, "tablet": 0.01}, share={"tablet": 0.1})
    ranker = AudienceRanker(dimensions=DIMENSIONS).fit(data)
    devices = ranker.segments_[ranker.segments_["dimension"] == "device_class"].set_index("segment")
    assert list(devices.index) == ["desktop", "mobile", "tablet"]  # best predicted rate first
    assert devices.loc["desktop", "suggestion"] == "bid up"
    assert devices.loc["tablet", "suggestion"] == "exclude"
    assert devices.loc["desktop", "predicted_lift"] > 1.2 > 0.8 > devices.loc["tablet", "predicted_lift"]
    assert devices["sessions"].sum() == 20_000 and devices["share"].sum() == pytest.approx(1.0)
    channels = ranker.segments_[ranker.segments_["dimension"] == "channel"]
    assert (channels["suggestion"] == "keep").all()  # the channel does not matter here
    pairs = ranker.segments_[ranker.segments_["dimension"] == "device_class × channel"]
    assert set(pairs["segment"]) == {
        f"{d} × {c}" for d in ("desktop", "mobile", "tablet") for c in ("search", "social")
    }
    row = devices.loc["desktop"]
    assert row["observed_rate_low"] < 0.06 < row["observed_rate_high"]
    assert row["predicted_value_per_session"] == pytest.approx(0.06 * 40.0)
    assert ranker.candidates("exclude")["segment"].iloc[0].startswith("tablet")
    assert ranker.candidates("bid up")["segment"].iloc[0].startswith("desktop")
    assert set(ranker.ranking("rate", top=3)["segment"]) <= set(ranker.segments_["segment"])
    assert len(ranker.ranking(top=3)) == 3


def test_segments_under_k_sessions_or_visitors_are_hidden() -> None:
    data = scored(2_000, {"desktop": 0.05, "mobile": 0.05})
    data.loc[:8, "device_class"] = "console"  # 9 sessions
    data.loc[9:30, "device_class"] = "smart-tv"  # 22 sessions, from 3 visitors
    data.loc[9:30, "visitor_id"] = ["a", "b", "c"] * 7 + ["a"]
    ranker = AudienceRanker(dimensions=[("device_class",)]).fit(data)
    assert set(ranker.segments_["segment"]) == {"desktop", "mobile"}
    assert ranker.hidden_segments_ == 2
    assert (
        AudienceRanker(dimensions=[("device_class",)], k=5).fit(data.drop(columns="visitor_id")).hidden_segments_ == 0
    )


def test_no_action_without_size_or_against_the_data() -> None:
    data = scored(3_000, {"desktop": 0.05, "mobile": 0.05}, seed=2)
    small = data.index[:60]
    data.loc[small, "device_class"] = "tablet"
    data.loc[small, "probability"] = 0.2  # predicted 4× the average, on 60 sessions
    ranker = AudienceRanker(dimensions=[("device_class",)], min_sessions=100).fit(data)
    tablet = ranker.segments_.set_index("segment").loc["tablet"]
    assert tablet["suggestion"] == "keep" and "under 100 sessions" in tablet["reason"]
    # a large segment the model rates highly but that converts far below average
    data = scored(6_000, {"desktop": 0.05, "mobile": 0.05}, seed=3)
    mobile = data["device_class"] == "mobile"
    data.loc[mobile, "probability"] = 0.09
    data.loc[mobile, "converted"] = False
    ranker = AudienceRanker(dimensions=[("device_class",)]).fit(data)
    row = ranker.segments_.set_index("segment").loc["mobile"]
    assert row["predicted_lift"] > 1.2 and row["suggestion"] == "keep"
    assert "observed rate is below average" in row["reason"]


def test_order_values_shrink_toward_the_average() -> None:
    data = scored(5_000, {"desktop": 0.05, "mobile": 0.05}, seed=4)
    first = data.index[(data["device_class"] == "desktop") & data["converted"]][0]
    data.loc[first, "conversion_value"] = 10_000.0
    ranker = AudienceRanker(dimensions=[("device_class",)], value_prior_conversions=5).fit(data)
    rows = ranker.segments_.set_index("segment")
    overall = ranker.overall_["average_order_value"]
    raw = (
        data.loc[data["device_class"] == "desktop", "conversion_value"].sum()
        / data.loc[data["device_class"] == "desktop", "converted"].sum()
    )
    assert overall < rows.loc["desktop", "average_order_value"] < raw
    assert rows.loc["desktop", "predicted_value_per_session"] == pytest.approx(
        rows.loc["desktop", "predicted_rate"] * rows.loc["desktop", "average_order_value"]
    )
    by_value = ranker.ranking("value")
    assert by_value["segment"].iloc[0] == "desktop"


def test_segments_no_ad_platform_can_target_are_insight_only_and_named_in_words() -> None:
    data = scored(20_000, {"desktop": 0.06, "mobile": 0.03, "tablet": 0.01}, share={"tablet": 0.1})
    data["visitor_type"] = np.where(data["device_class"] == "desktop", "returning", "new")  # same lifts
    data.loc[data.index[:3_000], "channel"] = "direct"
    dimensions = [("device_class",), ("visitor_type",), ("channel",), ("device_class", "visitor_type")]
    ranker = AudienceRanker(dimensions=dimensions).fit(data)
    rows = ranker.segments_.set_index(["dimension", "segment"])
    returning = rows.loc[("visitor_type", "returning")]
    assert returning["predicted_lift"] > 1.2 and not returning["targetable"]
    assert returning["suggestion"] == "insight only" and returning["reason"].startswith("not targetable: for insight")
    assert (
        returning["dimension_label"] == "new or returning visitor"
        and returning["segment_label"] == "returning visitors"
    )
    assert rows.loc[("channel", "direct"), "suggestion"] == "insight only"
    pair = rows.loc[("device_class × visitor_type", "desktop × returning")]
    assert pair["suggestion"] == "insight only" and pair["segment_label"] == "Desktop × returning visitors"
    desktop = rows.loc[("device_class", "desktop")]
    assert desktop["targetable"] and desktop["suggestion"] == "bid up" and desktop["segment_label"] == "Desktop"
    assert desktop["reason"].endswith("act through device bid adjustments")
    candidates = pd.concat([ranker.candidates("bid up"), ranker.candidates("exclude")])
    assert candidates["targetable"].all() and set(candidates["dimension"]) == {"device_class"}
    assert len(ranker.candidates("insight only")) == (~ranker.segments_["targetable"]).sum() > 0


def test_estimator_contract_and_bad_input() -> None:
    ranker = AudienceRanker(k=20, bid_up_lift=1.5)
    assert clone(ranker).get_params()["k"] == 20 and not hasattr(ranker, "segments_")
    data = scored(500, {"desktop": 0.05})
    with pytest.raises(InvalidInput, match="lack the column"):
        AudienceRanker().fit(data)  # no region, os_family, … columns
    with pytest.raises(InvalidInput, match="between 0 and 1"):
        AudienceRanker(dimensions=DIMENSIONS).fit(data.assign(probability=1.5))
    with pytest.raises(InvalidInput, match="k must be"):
        AudienceRanker(dimensions=DIMENSIONS, k=1).fit(data)
    with pytest.raises(InvalidInput, match="exclude_lift"):
        AudienceRanker(dimensions=DIMENSIONS, bid_up_lift=0.9).fit(data)
    with pytest.raises(NotReady):
        AudienceRanker(dimensions=DIMENSIONS).fit(data.iloc[:0])
    with pytest.raises(InvalidInput, match="rank by"):
        AudienceRanker(dimensions=DIMENSIONS).fit(data).ranking("size")
