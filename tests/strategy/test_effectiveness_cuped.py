"""CUPED in the effectiveness report: returning visitors' history cuts the variance of creative comparisons and
the sessions a verdict waits for; θ is the within-arm OLS slope; the adjusted lift interval covers the planted
lift in a small seeded simulation; without history (or with constant history) nothing changes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from models import intervals
from strategy import effectiveness_cuped as cuped
from strategy.effectiveness import effectiveness

HISTORY = ["prev_sessions", "prev_conversions"]
LIFT = 0.15  # planted: creative b converts 15 % more than creative a
BUYERS, BUYER_RATE, OTHER_RATE = 0.25, 0.6, 0.02


def visitors(rng: np.random.Generator, n: int, lift: float = 0.0) -> dict[str, np.ndarray]:
    """``n`` sessions: a quarter from buyers (who convert often, then and now), most from returning visitors."""
    buyer = rng.random(n) < BUYERS
    prev_sessions = np.where(rng.random(n) < 0.8, 1 + rng.poisson(4, n), 0)
    rate = np.where(buyer, BUYER_RATE, OTHER_RATE)
    return {
        "prev_sessions": prev_sessions,
        "prev_conversions": rng.binomial(prev_sessions, rate),
        "converted": rng.random(n) < rate * (1 + lift),
    }


def creative_test(seed: int, per_arm: int = 1_500) -> pd.DataFrame:
    """A campaign testing creative a against creative b (the better one), as a session frame."""
    rng = np.random.default_rng(seed)
    arms = []
    for creative, lift in (("a", 0.0), ("b", LIFT)):
        arms.append(pd.DataFrame(visitors(rng, per_arm, lift)).assign(creative_id=creative))
    frame = pd.concat(arms, ignore_index=True)
    return frame.assign(
        campaign_id="brand",
        utm_source="google",
        utm_medium="cpc",
        conversion_value=np.where(frame["converted"], 40.0, 0.0),
    )


@pytest.fixture(scope="module")
def sessions() -> pd.DataFrame:
    return creative_test(3)


def challenger(report: pd.DataFrame) -> pd.Series:
    (row,) = [row for _, row in report.iterrows() if row["comparison"] == "creative" and not row["is_reference"]]
    return row


def test_history_cuts_the_variance_and_the_sessions_needed(sessions: pd.DataFrame) -> None:
    adjusted = effectiveness(sessions).comparisons
    plain = effectiveness(sessions.drop(columns=HISTORY)).comparisons
    row, raw = challenger(adjusted), challenger(plain)
    assert row["variance_reduction"] > 0.2 and raw["variance_reduction"] == 0
    assert (adjusted.loc[adjusted["is_reference"], "variance_reduction"] > 0.2).all()  # the family's pooled share
    assert row["verdict"].startswith("not enough data yet") and raw["verdict"].startswith("not enough data yet")
    assert 0 < row["sessions_needed"] < raw["sessions_needed"]
    width, raw_width = row["lift_high"] - row["lift_low"], raw["lift_high"] - raw["lift_low"]
    av_width = row["always_valid_lift_high"] - row["always_valid_lift_low"]
    assert width < 0.9 * raw_width and av_width < 0.9 * (raw["always_valid_lift_high"] - raw["always_valid_lift_low"])
    assert row["lift_low"] < row["lift"] < row["lift_high"]
    report = effectiveness(sessions).to_dict()
    json.dumps(report, allow_nan=False)
    assert all(0 <= c["variance_reduction"] < 1 for c in report["comparisons"])


def test_adjusted_lift_is_the_adjusted_difference_over_the_adjusted_reference(sessions: pd.DataFrame) -> None:
    """θ is the OLS slope on within-arm-centred data; each arm's rate moves by θ·(x̄_arm − x̄)."""
    data = pd.DataFrame(cuped.covariate_columns(sessions)).assign(
        converted=sessions["converted"].astype(int), group="brand", arm=sessions["creative_id"]
    )
    names = [c for c in data.columns if c.startswith(cuped.PREFIX)]
    assert names == ["cuped_prev_sessions", "cuped_prev_conversions"]
    centred = data.groupby("arm")[[*names, "converted"]].transform(lambda s: s - s.mean())
    theta = np.linalg.lstsq(centred[names].to_numpy(), centred["converted"].to_numpy(), rcond=None)[0]
    table = cuped.arm_adjustments(data, "group", "arm").set_index("arm")
    means = data.groupby("arm")[[*names, "converted"]].mean()
    overall = data[names].mean()
    for arm in "ab":
        assert table.loc[arm, "shift"] == pytest.approx(theta @ (means.loc[arm, names] - overall))
        residual = centred.loc[data["arm"] == arm, "converted"] - centred.loc[data["arm"] == arm, names] @ theta
        raw = centred.loc[data["arm"] == arm, "converted"]
        assert table.loc[arm, "variance_ratio"] == pytest.approx((residual**2).sum() / (raw**2).sum())
    adjusted = means["converted"] - table["shift"]
    row = challenger(effectiveness(sessions).comparisons)
    reference, arm = ("b", "a") if row["arm"] == "a" else ("a", "b")
    assert row["lift"] == pytest.approx(adjusted[arm] / adjusted[reference] - 1)


def test_no_history_or_constant_history_changes_nothing(sessions: pd.DataFrame) -> None:
    bare = effectiveness(sessions.drop(columns=HISTORY)).comparisons
    constant = effectiveness(sessions.assign(prev_sessions=3, prev_conversions=0)).comparisons
    missing = effectiveness(sessions.assign(prev_sessions=np.nan, prev_conversions=None)).comparisons
    pd.testing.assert_frame_equal(bare, constant)
    pd.testing.assert_frame_equal(bare, missing)
    assert (bare["variance_reduction"] == 0).all()
    row = challenger(bare)
    counts = bare.set_index("arm")[["sessions", "conversions"]]
    ref, arm = counts.loc[row["reference"]], counts.loc[row["arm"]]
    args = (ref["conversions"], ref["sessions"], arm["conversions"], arm["sessions"])
    low, high = intervals.lift_interval(*args)
    assert (row["lift_low"], row["lift_high"]) == (float(low), float(high))
    assert row["p_value"] == float(intervals.two_proportion_p_value(*args))


def test_fishers_exact_test_stays_for_small_counts() -> None:
    """With an expected cell count under 5 the p-value is Fisher's on the raw counts, adjusted or not."""
    small = effectiveness(creative_test(5, per_arm=20)).comparisons
    row = challenger(small)
    counts = small.set_index("arm")
    ref, arm = counts.loc[row["reference"]], counts.loc[row["arm"]]
    pooled = (ref["conversions"] + arm["conversions"]) / 40
    assert min(pooled, 1 - pooled) * 20 < 5 and row["variance_reduction"] > 0  # adjusted, yet Fisher's p
    args = (ref["conversions"], ref["sessions"], arm["conversions"], arm["sessions"])
    assert row["p_value"] == pytest.approx(float(intervals.two_proportion_p_value(*args)))


def test_adjusted_lift_interval_covers_the_planted_lift() -> None:
    """200 small creative tests in one go (one family each): the 90 % adjusted interval covers the true lift
    about 90 % of the time, is narrower than the raw one (and the estimates spread less), and the always-valid
    one covers at least as often."""
    rng = np.random.default_rng(18)
    reps, per_arm = 200, 600
    parts = [visitors(rng, reps * per_arm), visitors(rng, reps * per_arm, LIFT)]
    data = pd.DataFrame(
        {
            **{name: np.concatenate([p[name] for p in parts]) for name in ("prev_sessions", "prev_conversions")},
            "converted": np.concatenate([p["converted"] for p in parts]).astype(int),
            "group": np.tile(np.repeat(np.arange(reps), per_arm), 2),
            "arm": np.repeat(["a", "b"], reps * per_arm),
        }
    )
    data = data.assign(**cuped.covariate_columns(data))
    table = cuped.arm_adjustments(data, "group", "arm")
    a, b = table[table["arm"] == "a"], table[table["arm"] == "b"]
    counts = data.groupby(["group", "arm"])["converted"].sum().unstack()
    figures = cuped.adjusted_comparisons(
        (counts["a"].to_numpy(), per_arm),
        (counts["b"].to_numpy(), per_arm),
        (a["shift"].to_numpy(), a["variance_ratio"].to_numpy()),
        (b["shift"].to_numpy(), b["variance_ratio"].to_numpy()),
        confidence=0.9,
        rho=intervals.mixing_rho(alpha=0.1),
    )
    covered = (figures["lift_low"] <= LIFT) & (figures["lift_high"] >= LIFT)
    assert 0.84 <= covered.mean() <= 0.96
    always = (figures["always_valid_lift_low"] <= LIFT) & (figures["always_valid_lift_high"] >= LIFT)
    assert always.mean() >= covered.mean()
    raw_low, raw_high = intervals.lift_interval(counts["a"], per_arm, counts["b"], per_arm, 0.9)
    assert np.median(figures["lift_high"] - figures["lift_low"]) < 0.9 * np.median(raw_high - raw_low)
    assert np.median(figures["variance_reduction"]) > 0.2
    raw_lift = intervals.lift(counts["a"], per_arm, counts["b"], per_arm)
    assert np.var(figures["lift"]) < 0.8 * np.var(raw_lift)  # the estimates themselves spread less
    assert abs(np.mean(figures["lift"]) - LIFT) < 0.03  # no bias worth the name


def test_campaigns_of_a_channel_are_adjusted_too(sessions: pd.DataFrame) -> None:
    campaigns = effectiveness(sessions.assign(campaign_id="cmp-" + sessions["creative_id"])).comparisons
    assert set(campaigns["comparison"]) == {"campaign"}  # one creative per campaign: no creative test
    assert (campaigns["variance_reduction"] > 0.2).all()


def test_an_arm_without_conversions_is_compared_unadjusted(sessions: pd.DataFrame) -> None:
    """No conversion in an arm: nothing to adjust there, so the test reports no cut (and raw figures)."""
    dry = sessions.assign(converted=sessions["converted"] & (sessions["creative_id"] == "b"))
    adjusted = effectiveness(dry).comparisons
    pd.testing.assert_frame_equal(adjusted, effectiveness(dry.drop(columns=HISTORY)).comparisons)
    assert (adjusted["variance_reduction"] == 0).all()
