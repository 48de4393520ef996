"""The effectiveness report on hand-built session frames: metrics, spend, comparisons and their verdicts,
sample-ratio checks, and the false-winner rate of the decision rule on simulated equal creatives."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models import intervals
from strategy.effectiveness import LOSER, NO_DIFFERENCE, WINNER, effectiveness, validate_planned_splits

SEARCH = {"utm_source": "google", "utm_medium": "cpc"}
SOCIAL = {"utm_source": "facebook", "utm_medium": "paid_social"}


def arm(
    campaign: str | None,
    creative: str | None,
    sessions: int,
    conversions: int,
    *,
    tags: dict[str, str] | None = None,
    value: float = 50.0,
    device: str = "desktop",
    returning: int = 0,
) -> pd.DataFrame:
    """``sessions`` sessions of one arm, the first ``conversions`` converted (each worth ``value``)."""
    converted = np.arange(sessions) < conversions
    tags = tags if tags is not None else SEARCH
    return pd.DataFrame(
        {
            "session_id": [f"s-{campaign}-{creative}-{i}" for i in range(sessions)],
            "visitor_id": [f"v-{campaign}-{creative}-{i}" for i in range(sessions)],
            "campaign_id": campaign,
            "creative_id": creative,
            "utm_source": tags.get("utm_source"),
            "utm_medium": tags.get("utm_medium"),
            "referrer_host": None,
            "device_class": device,
            "region": "Europe/Berlin",
            "prev_sessions": (np.arange(sessions) < returning).astype(int),
            "converted": converted,
            "conversion_value": np.where(converted, value, 0.0),
        }
    )


def frame(*arms: pd.DataFrame) -> pd.DataFrame:
    return pd.concat(arms, ignore_index=True)


def spend_rows(*rows: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame([{"date": "2026-01-01", "campaign_id": c, "channel": ch, "spend": s} for c, ch, s in rows])


def comparison(report: dict, arm_id: str) -> dict:
    return next(c for c in report["comparisons"] if c["arm"] == arm_id)


def test_campaign_rows_with_spend_cpa_and_roas() -> None:
    sessions = frame(
        arm("brand", "a", 400, 40, value=30.0),
        arm("generic", "x", 300, 6, value=100.0),
        arm(None, None, 100, 5, tags={}),
    )
    spend = spend_rows(("brand", "search", 200.0), ("generic", "search", 300.0), ("idle", "display", 50.0))
    report = effectiveness(sessions, spend, by="campaign").to_dict()
    json.dumps(report, allow_nan=False)  # JSON-ready: no NaN, no numpy types
    rows = {r["campaign_id"]: r for r in report["rows"]}
    assert list(rows) == ["brand", "generic", "idle", None]
    brand = rows["brand"]
    assert (brand["sessions"], brand["conversions"], brand["channel"]) == (400, 40, "search")
    assert brand["conversion_rate"] == pytest.approx(0.1)
    low, high = intervals.wilson_interval(40, 400)
    assert brand["conversion_rate_interval"] == pytest.approx([float(low), float(high)])
    assert brand["value"] == pytest.approx(1200.0) and brand["spend"] == pytest.approx(200.0)
    assert brand["cpa"] == pytest.approx(5.0) and brand["roas"] == pytest.approx(6.0)
    assert brand["cpa_interval"][0] < 5.0 < brand["cpa_interval"][1]
    assert brand["roas_interval"][0] < 6.0 < brand["roas_interval"][1]
    assert brand["value_interval"][0] < 1200.0 < brand["value_interval"][1]
    idle = rows["idle"]
    assert (idle["sessions"], idle["conversions"], idle["cpa"], idle["channel"]) == (0, 0, None, "display")
    assert idle["cpa_interval"][1] is None  # no conversion in sight: the CPA is unbounded above
    assert rows[None]["spend"] is None and rows[None]["cpa"] is None
    assert any("'idle' spent 50.00 but brought no session" in w for w in report["warnings"])
    assert report["totals"]["sessions"] == 800 and report["totals"]["spend"] == pytest.approx(550.0)
    assert "visitor_id" not in json.dumps(report) and "v-brand" not in json.dumps(report)


def test_channel_creative_and_segment_groupings() -> None:
    sessions = frame(
        arm("brand", "a", 200, 20, device="mobile", returning=50),
        arm("social", "s", 100, 2, tags=SOCIAL),
        arm(None, None, 50, 1, tags={}),
    )
    spend = spend_rows(("brand", "search", 100.0), ("social", "social", 40.0))
    channels = {r["channel"]: r for r in effectiveness(sessions, spend, by="channel").to_dict()["rows"]}
    assert set(channels) == {"search", "social", "direct"}
    assert channels["search"]["spend"] == pytest.approx(100.0) and channels["direct"]["spend"] is None
    assert channels["social"]["sessions"] == 100
    creatives = effectiveness(sessions, spend, by="creative").to_dict()["rows"]
    assert [(r["campaign_id"], r["creative_id"]) for r in creatives] == [("brand", "a"), ("social", "s"), (None, None)]
    assert all(r["spend"] is None and r["cpa"] is None for r in creatives)  # no spend per creative
    segments = {(r["segment"], r["segment_value"]): r for r in effectiveness(sessions, by="segment").to_dict()["rows"]}
    assert segments[("device", "mobile")]["sessions"] == 200 and segments[("device", "desktop")]["sessions"] == 150
    assert segments[("visitor", "returning")]["sessions"] == 50 and segments[("visitor", "new")]["sessions"] == 300
    assert segments[("region", "Europe/Berlin")]["sessions"] == 350


def test_a_clear_difference_is_called_with_its_evidence() -> None:
    sessions = frame(arm("brand", "a", 6_000, 300), arm("brand", "b", 6_000, 480))
    report = effectiveness(sessions).to_dict()
    best, other = comparison(report, "b"), comparison(report, "a")
    assert best["is_reference"] and best["verdict"] == WINNER and best["lift"] is None
    assert other["reference"] == "b" and other["verdict"] == LOSER
    assert other["lift"] == pytest.approx(300 / 480 - 1)
    assert other["always_valid_lift_interval"][1] < 0 and other["q_value"] < 0.05
    assert other["chance_to_beat_reference"] < 0.001
    av_low, av_high = other["always_valid_lift_interval"]
    low, high = other["lift_interval"]
    assert av_low < low < high < av_high  # looking any time costs width


def test_thin_evidence_asks_for_more_sessions_instead_of_a_winner() -> None:
    sessions = frame(arm("brand", "a", 120, 6), arm("brand", "b", 120, 14))
    report = effectiveness(sessions).to_dict()
    best, other = comparison(report, "b"), comparison(report, "a")
    assert other["p_value"] < 0.1  # suggestive at a single fixed look ...
    for row in (best, other):  # ... but no call: the always-valid interval still spans zero
        assert row["verdict"].startswith("not enough data yet (≈") and row["verdict"].endswith("more sessions needed)")
        assert row["sessions_needed"] > 0
    assert other["always_valid_lift_interval"][0] < 0 < other["always_valid_lift_interval"][1]


def test_equal_arms_with_enough_data_show_no_detectable_difference() -> None:
    sessions = frame(arm("brand", "a", 60_000, 6_000), arm("brand", "b", 60_000, 6_060))
    report = effectiveness(sessions).to_dict()
    assert [c["verdict"] for c in report["comparisons"]] == [NO_DIFFERENCE, NO_DIFFERENCE]
    assert [c["sessions_needed"] for c in report["comparisons"]] == [0, 0]


def test_q_values_adjust_within_each_test_not_across_the_report() -> None:
    """A campaign's creative test is not made weaker by unrelated tests of other campaigns (its family is its own
    arms); within a test, the arms' p-values are adjusted together."""
    sessions = frame(
        arm("brand", "a", 2_000, 100),
        arm("brand", "b", 2_000, 130),
        arm("brand", "c", 2_000, 90),
        arm("social", "s1", 1_500, 30, tags=SOCIAL),
        arm("social2", "s2", 1_500, 45, tags=SOCIAL),
    )
    table = effectiveness(sessions).comparisons
    assert set(table["comparison"]) == {"creative", "campaign"}  # creatives within campaigns, campaigns within channels
    challengers = table[~table["is_reference"]]
    assert len(challengers) == 3  # brand: a and c against b; search: one campaign only; social: s1 against s2
    assert set(challengers["family"]) == {"creatives of campaign brand", "campaigns of channel social"}
    for _, test in challengers.groupby("family"):
        expected = intervals.benjamini_hochberg(test["p_value"].to_numpy())
        np.testing.assert_allclose(test["q_value"].to_numpy(), expected)
    social = challengers[challengers["family"] == "campaigns of channel social"]
    assert social["q_value"].tolist() == social["p_value"].tolist(), "one comparison in its family: q = p"
    assert (challengers["q_value"] >= challengers["p_value"]).all()


def test_the_decision_rule_rarely_calls_equal_creatives() -> None:
    rng = np.random.default_rng(7)
    arms = []
    for campaign in range(60):
        rate = rng.uniform(0.03, 0.12)
        for creative in "abc":
            n = int(rng.integers(1_000, 8_000))
            arms.append(arm(f"c{campaign}", creative, n, int(rng.binomial(n, rate))))
    table = effectiveness(frame(*arms)).comparisons
    table = table[table["comparison"] == "creative"]  # the campaigns themselves differ
    references = table[table["is_reference"]]
    called = references["verdict"].isin([WINNER, LOSER]).mean()
    assert called <= 0.05
    assert (table["verdict"] == LOSER).mean() <= 0.05
    fixed_test_calls = (table["p_value"] < 0.05).groupby(table["group"]).any().mean()
    assert fixed_test_calls > called  # the naive reading of p-values calls more "winners" among equals


def test_sample_ratio_mismatch_is_flagged() -> None:
    sessions = frame(arm("brand", "a", 600, 30), arm("brand", "b", 400, 20), arm("brand", "z", 30, 1))
    planned: dict[str, dict[str, float]] = {"brand": {"a": 1, "b": 1}, "ghost": {"x": 0.5, "y": 0.5}}
    report = effectiveness(sessions, planned_splits=planned).to_dict()
    (check,) = report["sample_ratio_checks"]
    assert check["campaign_id"] == "brand" and check["mismatch"] is True
    assert check["observed_sessions"] == {"a": 600, "b": 400} and check["planned_shares"] == {"a": 0.5, "b": 0.5}
    assert check["unplanned_sessions"] == {"z": 30} and check["p_value"] < 0.001
    assert all(c["sample_ratio_mismatch"] for c in report["comparisons"] if c["group"] == "brand")
    warnings = " ".join(report["warnings"])
    assert "sample ratio mismatch in campaign 'brand'" in warnings
    assert "outside the planned split" in warnings and "'ghost': no sessions" in warnings
    fine = effectiveness(sessions, planned_splits={"brand": {"a": 0.6, "b": 0.4, "z": 0.03}}).to_dict()
    assert fine["sample_ratio_checks"][0]["mismatch"] is False
    assert not any(c["sample_ratio_mismatch"] for c in fine["comparisons"])


@pytest.mark.parametrize(
    "planned",
    [[], {}, {"brand": {"a": 1}}, {"brand": {"a": 1, "b": -1}}, {"brand": {"a": "x", "b": 1}}, {"b": [1, 2]}],
)
def test_bad_planned_splits(planned: object) -> None:
    with pytest.raises(InvalidInput, match="planned split"):
        validate_planned_splits(planned)


def test_bad_arguments() -> None:
    sessions = arm("brand", "a", 10, 1)
    with pytest.raises(InvalidInput, match="unknown grouping 'week'"):
        effectiveness(sessions, by="week")
    with pytest.raises(InvalidInput, match="non-negative"):
        effectiveness(sessions, spend_rows(("brand", "search", -5.0)))
    with pytest.raises(InvalidInput, match="lack columns"):
        effectiveness(sessions.drop(columns=["converted"]))
    report = effectiveness(sessions, by="campaign").to_dict()
    assert report["comparisons"] == [] and "no spend recorded" in report["warnings"][0]
    bare = effectiveness(sessions[["converted", "conversion_value"]], by="channel").to_dict()
    assert [(r["channel"], r["sessions"]) for r in bare["rows"]] == [("direct", 10)]  # no tags at all: direct
