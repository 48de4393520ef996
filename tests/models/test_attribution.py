"""Attribution facade: every model credits exactly the conversions and value (property test), one output
shape, side-by-side comparison, daily series per campaign, and bad input."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from core.errors import InvalidInput, NotReady
from models.attribution import (
    MODELS,
    ModelOptions,
    attribute,
    compare_models,
    comparison_table,
    daily_attributed_outcomes,
    journey_shares,
)

T0 = pd.Timestamp("2024-05-21 02:00", tz="UTC")


def paths_frame(rows: list[tuple[list[str], list[float], float | None]], end: pd.Timestamp = T0) -> pd.DataFrame:
    """Journeys from (campaigns, ages in days before ``end``, value or None); channel = campaign's first letter."""
    records: list[dict[str, Any]] = []
    for campaigns, ages, value in rows:
        times = [end - pd.Timedelta(days=a) for a in ages]
        records.append(
            {
                "channels": [c[0] for c in campaigns],
                "campaigns": campaigns,
                "touch_times": times,
                "converted": value is not None,
                "conversion_value": value or 0.0,
                "conversion_at": times[-1] if value is not None else pd.NaT,
            }
        )
    return pd.DataFrame(records)


journeys_strategy = st.lists(
    st.tuples(
        st.lists(st.sampled_from(["a1", "a2", "b1", "c1", "d1"]), min_size=1, max_size=6),
        st.lists(st.floats(min_value=0, max_value=40), min_size=6, max_size=6),
        st.one_of(st.none(), st.floats(min_value=0, max_value=1000)),
    ),
    min_size=1,
    max_size=30,
)


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(journeys_strategy, st.sampled_from(["channel", "campaign"]), st.integers(min_value=2, max_value=15))
def test_every_model_credits_exactly_the_conversions_and_value(
    journeys: list[tuple[list[str], list[float], float | None]], level: str, max_exact: int
) -> None:
    rows = [(campaigns, sorted(ages[: len(campaigns)], reverse=True), value) for campaigns, ages, value in journeys]
    paths = paths_frame(rows)
    converting = int(paths["converted"].sum())
    if converting == 0:
        with pytest.raises(NotReady):
            attribute(paths, "linear", level)
        return
    value = float(paths["conversion_value"].sum())
    column = "channels" if level == "channel" else "campaigns"
    keys = {k for p in paths[column] for k in p}
    options = ModelOptions(shapley_max_exact_players=max_exact, shapley_permutations=50)
    for model in MODELS:
        result = attribute(paths, model, level, options)
        credits = result.credits
        assert result.converting_journeys == converting and result.journeys == len(paths)
        assert credits["conversions"].sum() == pytest.approx(converting), model
        assert credits["value"].sum() == pytest.approx(value, abs=1e-6), model
        assert (credits[["conversions", "value"]] >= -1e-9).all().all(), model
        assert set(credits[result.key_column]) == keys
        assert (credits["converting_journeys"] <= credits["journeys"]).all()
        if model != "markov":  # a first-order chain credits states that lead on to converting ones
            assert (credits["conversions"] <= credits["converting_journeys"] + 1e-9).all(), model
        assert credits["conversion_share"].sum() == pytest.approx(1.0)
        touches, shares = journey_shares(paths, model, level, options)
        assert np.bincount(touches.journey, weights=shares) == pytest.approx(np.ones(len(paths))), model


PATHS = paths_frame(
    [
        (["a-search", "b-mail"], [3, 0], 10.0),  # converts 2024-05-21 02:00 UTC (05-20 in New York)
        (["a-search"], [-0.5], 4.0),  # converts 2024-05-21 14:00 UTC
        (["b-mail"], [1], None),
    ]
)


def test_result_shape_and_json() -> None:
    result = attribute(PATHS, "linear", "campaign")

    assert list(result.credits.columns) == [
        "campaign_id",
        "journeys",
        "converting_journeys",
        "conversions",
        "value",
        "conversion_share",
        "value_share",
    ]
    rows = result.credits.set_index("campaign_id")
    assert rows.loc["a-search"].tolist() == pytest.approx([2, 2, 1.5, 9.0, 0.75, 9 / 14])
    assert rows.loc["b-mail"].tolist() == pytest.approx([2, 1, 0.5, 5.0, 0.25, 5 / 14])
    assert result.credits["campaign_id"].tolist() == ["a-search", "b-mail"]  # most credit first
    document = json.loads(json.dumps(result.to_dict()))
    assert document["model"] == "linear" and document["converting_journeys"] == 2 and document["value"] == 14.0
    assert document["credits"][0]["campaign_id"] == "a-search"
    assert any("only 2 converting journeys" in note for note in document["notes"])
    markov = attribute(PATHS, "markov", "channel")
    assert "removal_effect" in markov.credits and markov.method.startswith("markov")
    shapley = attribute(PATHS, "shapley", "channel")
    assert shapley.method == "shapley (exact)" and (shapley.credits["conversions_std_error"] == 0).all()


def test_sampled_shapley_says_so() -> None:
    result = attribute(PATHS, "shapley", "campaign", ModelOptions(shapley_max_exact_players=1))

    assert result.method == "shapley (sampled)"
    assert any("estimated from 2000 random orders" in note for note in result.notes)


def test_comparison_runs_every_model_side_by_side() -> None:
    results = compare_models(PATHS, "channel")

    assert list(results) == list(MODELS)
    table = comparison_table(results)
    assert list(table.columns) == ["channel", "journeys", "converting_journeys", *MODELS]
    by_channel = table.set_index("channel")
    assert by_channel.loc["a", "last"] == 1.0 and by_channel.loc["b", "last"] == 1.0
    assert by_channel.loc["a", "first"] == 2.0 and by_channel.loc["b", "first"] == 0.0
    assert table[list(MODELS)].sum().to_numpy() == pytest.approx([2.0] * len(MODELS))
    values = comparison_table(results, metric="value")
    assert values[list(MODELS)].sum().to_numpy() == pytest.approx([14.0] * len(MODELS))
    with pytest.raises(InvalidInput, match="metric"):
        comparison_table(results, metric="clicks")
    with pytest.raises(InvalidInput, match="unknown attribution model"):
        compare_models(PATHS, "channel", models=("linear", "u-shaped"))


def test_daily_outcomes_by_conversion_date_and_time_zone() -> None:
    utc = daily_attributed_outcomes(PATHS, "linear", "campaign")

    assert list(utc.columns) == ["date", "campaign_id", "conversions", "value"]
    assert utc.to_dict("records") == [
        {"date": date(2024, 5, 21), "campaign_id": "a-search", "conversions": 1.5, "value": 9.0},
        {"date": date(2024, 5, 21), "campaign_id": "b-mail", "conversions": 0.5, "value": 5.0},
    ]
    new_york = daily_attributed_outcomes(PATHS, "linear", "campaign", timezone="America/New_York")
    assert new_york.to_dict("records") == [
        {"date": date(2024, 5, 20), "campaign_id": "a-search", "conversions": 0.5, "value": 5.0},
        {"date": date(2024, 5, 20), "campaign_id": "b-mail", "conversions": 0.5, "value": 5.0},
        {"date": date(2024, 5, 21), "campaign_id": "a-search", "conversions": 1.0, "value": 4.0},
    ]
    by_channel = daily_attributed_outcomes(PATHS, "last", "channel")
    assert by_channel.to_dict("records") == [
        {"date": date(2024, 5, 21), "channel": "a", "conversions": 1.0, "value": 4.0},
        {"date": date(2024, 5, 21), "channel": "b", "conversions": 1.0, "value": 10.0},
    ]
    with pytest.raises(InvalidInput, match="timezone"):
        daily_attributed_outcomes(PATHS, timezone="Mars/Olympus")


def test_daily_data_driven_series_keep_the_totals() -> None:
    rng = np.random.default_rng(6)
    rows = [
        (
            [f"{c}x" for c in rng.choice(list("abcdef"), size=int(rng.integers(1, 4)))],
            sorted(rng.uniform(0, 20, 3).tolist(), reverse=True),
            float(rng.integers(1, 50)) if rng.random() < 0.4 else None,
        )
        for _ in range(200)
    ]
    paths = paths_frame([(c, ages[: len(c)], v) for c, ages, v in rows])
    for model in ("markov", "shapley"):
        daily = daily_attributed_outcomes(paths, model, "campaign")
        assert daily["conversions"].sum() == pytest.approx(paths["converted"].sum())
        assert daily["value"].sum() == pytest.approx(paths["conversion_value"].sum())
        assert daily["date"].nunique() > 5
    # per journey, the Zhao et al. game splits equally over distinct touchpoints: the exact Shapley credits
    shapley = daily_attributed_outcomes(paths, "shapley", "campaign").groupby("campaign_id")["conversions"].sum()
    exact = attribute(paths, "shapley", "campaign").credits.set_index("campaign_id")["conversions"]
    assert shapley.to_dict() == pytest.approx(exact[exact > 0].to_dict())


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: attribute(PATHS, "u-shaped"), InvalidInput, "choose one of last, first, linear"),
        (lambda: attribute(PATHS, "linear", "creative"), InvalidInput, "choose one of channel, campaign"),
        (lambda: daily_attributed_outcomes(PATHS, "bogus"), InvalidInput, "unknown attribution model"),
        (lambda: attribute(PATHS[~PATHS["converted"]], "markov"), NotReady, "no converting journeys"),
        (lambda: daily_attributed_outcomes(PATHS[~PATHS["converted"]], "shapley"), NotReady, "no converting"),
        (lambda: attribute(PATHS.drop(columns="touch_times"), "time-decay"), InvalidInput, "touch_times"),
    ],
)
def test_bad_input(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()
