"""bench_experiments at a tiny size: the worlds draw what they say, the figures are sane, the JSON line is whole.

Holdout worlds, geo worlds and the hand-off's regional media-mix world (its media-mix fits are left to the
benchmark: too slow here)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from bench_experiments import (
    HANDOFF_CHANNEL,
    WORLDS,
    design_dark_test,
    main,
    read_dark_test,
    run_geo_world,
    run_world,
    simulate_visitors,
    summarize,
    summarize_designs,
)
from experiment_worlds import GEO_WORLDS, geo_window, plant_lift, regionalize, run_dark_test, simulate_geo_panel
from mmm_worlds import simulate_weekly_world

SIMS, PER_GROUP = 120, 600
TARGET_NAMES = {
    "coverage_cuped_lowest",
    "coverage_cuped_highest",
    "coverage_raw_lowest",
    "coverage_raw_highest",
    "fixed_look_fpr_cuped",
    "daily_looks_fpr_always_valid",
    "cuped_variance_reduction",
    "cuped_coverage_loss",
    "power_gap",
}
DESIGN_TARGETS = {
    f"{kind}_{name}" for kind in ("geo", "time") for name in ("coverage_lowest", "coverage_highest", "fpr", "power_gap")
} | {"handoff_roi_error_ratio"}
RATES = (
    "coverage_cuped",
    "coverage_raw",
    "fixed_fpr_cuped",
    "fixed_fpr_raw",
    "daily_fpr_always_valid",
    "daily_fpr_naive",
    "power_raw",
    "power_cuped",
)


@pytest.fixture(scope="module")
def rows() -> list[dict[str, Any]]:
    return [run_world(world, SIMS, PER_GROUP, 7 + i) for i, world in enumerate(WORLDS)]


@pytest.mark.parametrize("world", WORLDS, ids=lambda w: w.name)
def test_worlds_draw_the_planted_lift_and_the_returning_share(world: Any) -> None:
    rng = np.random.default_rng(3)
    x, y_control = simulate_visitors(world, rng, (200_000,), 0.0)
    _, y_treated = simulate_visitors(world, rng, (200_000,), world.lift)
    assert np.mean(x == 0) >= 1 - world.returning_share  # new visitors have no pre-period
    assert y_control.mean() == pytest.approx(world.mean_metric, rel=0.03)
    assert y_treated.mean() - y_control.mean() == pytest.approx(world.lift * world.mean_metric, rel=0.35)
    assert np.corrcoef(x, y_control)[0, 1] > 0.3  # the covariate carries information for CUPED


def test_figures_are_sane_at_a_tiny_size(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        assert row["sims"] == SIMS and row["per_group"] == PER_GROUP
        assert all(0.0 <= row[key] <= 1.0 for key in RATES)
        assert 0.75 <= row["coverage_cuped"] <= 0.99 and 0.75 <= row["coverage_raw"] <= 0.99
        assert row["fixed_fpr_cuped"] <= 0.15 and row["fixed_fpr_raw"] <= 0.15
        # peeking daily at a fixed interval is wrong far more often than the always-valid interval
        assert row["daily_fpr_naive"] > row["daily_fpr_always_valid"] + 0.05
        assert row["daily_fpr_always_valid"] <= 0.10
        assert 0.0 < row["variance_reduction_empirical"] < 0.7  # from 120 pairs of estimates: noisy
        assert 0.1 < row["variance_reduction_reported"] < 0.7
        assert 0.4 <= row["power_raw"] <= 0.95  # heavy tails at 600 per group cost power (0.52-0.73 over seeds)
        assert row["power_cuped"] >= row["power_raw"] - 0.05  # CUPED's smaller variance does not cost power
        assert row["designed_mde"] == pytest.approx(
            row["designed_mde_relative"] * row["true_effect"] / row["world"]["lift"]
        )


def test_no_returning_visitors_no_variance_reduction() -> None:
    world = replace(WORLDS[0], name="new visitors only", returning_share=0.0)
    row = run_world(world, 60, PER_GROUP, 11)
    assert row["variance_reduction_reported"] == 0.0
    assert row["coverage_cuped"] == row["coverage_raw"]


def test_targets_have_one_shape_and_judge_the_worst_world(rows: list[dict[str, Any]]) -> None:
    targets = summarize(rows)
    assert set(targets) == TARGET_NAMES
    for entry in targets.values():
        assert set(entry) == {"value", "target", "met"}
    assert targets["coverage_cuped_lowest"]["value"] == min(r["coverage_cuped"] for r in rows)
    assert targets["daily_looks_fpr_always_valid"]["value"] == max(r["daily_fpr_always_valid"] for r in rows)
    gap = max(abs(r["power_raw"] - 0.8) for r in rows)
    assert targets["power_gap"] == {"value": gap, "target": 0.10, "met": gap <= 0.10}


def test_the_last_line_is_json_with_every_figure(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench_experiments.py", "--quick", "--sims", "20", "--design-sims", "2", "--handoff-seeds", "0"]
    monkeypatch.setattr("sys.argv", argv)
    main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == [world.name for world in WORLDS]
    figures = json.loads(lines[-1])
    assert figures["benchmark"] == "experiments" and figures["quick"] is True
    assert [row["world"]["name"] for row in figures["worlds"]] == [world.name for world in WORLDS]
    assert all(row["sims"] == 20 for row in figures["worlds"])
    assert set(figures["targets"]) == TARGET_NAMES | DESIGN_TARGETS
    assert [row["world"]["name"] for row in figures["geo"]] == [world.name for world in GEO_WORLDS]
    assert all(row["sims"] == 2 for row in figures["geo"] + figures["time"]) and figures["handoff"] == []
    assert figures["targets"]["handoff_roi_error_ratio"] == {"value": None, "target": 0.5, "met": False}
    assert any(line.startswith("targets: ") for line in lines)


@pytest.mark.parametrize("world", GEO_WORLDS, ids=lambda w: w.name)
def test_geo_worlds_have_uneven_regions_and_plant_the_lift(world: Any) -> None:
    panel = simulate_geo_panel(world, np.random.default_rng(5))
    assert panel["region"].nunique() == world.n_regions and panel["date"].nunique() == world.weeks
    assert (panel["kpi"] > 0).all()
    totals = panel.groupby("region")["kpi"].sum()
    assert totals.max() > 3 * totals.median()  # some regions are much bigger
    start, end = geo_window(world, panel)
    assert (end - start).days == 7 * world.test_weeks - 1
    treatment = tuple(sorted(panel["region"].unique())[:5])
    planted, truth = plant_lift(panel, treatment, start, 0.1)
    change = planted["kpi"].sum() - panel["kpi"].sum()
    assert change == pytest.approx(truth) and truth > 0
    assert planted.loc[planted["date"] < start, "kpi"].equals(panel.loc[panel["date"] < start, "kpi"])


def test_geo_figures_are_sane_at_a_tiny_size() -> None:
    row = run_geo_world(GEO_WORLDS[0], 6, 3)
    assert row["sims"] == 6
    assert 0.5 <= row["coverage"] <= 1.0 and row["fpr"] <= 0.5 and 0.3 <= row["power"] <= 1.0
    assert 0.01 < row["designed_mde_mean"] < 0.2  # 6 weeks of 30 regions detect a few per cent
    assert row["mean_estimate"] == pytest.approx(row["mean_true_effect"], rel=0.5)


@pytest.fixture(scope="module")
def dark() -> Any:
    world = simulate_weekly_world("demand+lift", 4, weeks=104, n_channels=4, follows_demand=True)
    regional = regionalize(world, np.random.default_rng(1), n_regions=12)
    split, power = design_dark_test(regional, 40, 4)
    return regional, split, power, run_dark_test(regional, HANDOFF_CHANNEL, split.treatment, 40, power.weeks)


def test_regions_add_up_to_the_market(dark: Any) -> None:
    regional, *_ = dark
    world = regional.world
    assert regional.shares.sum() == pytest.approx(1.0)
    national = regional.panel.groupby("date")["kpi"].sum().to_numpy()
    assert national == pytest.approx(world.frame[world.kpi].to_numpy() + regional.idiosyncratic.sum(axis=1))


def test_a_dark_test_cuts_spend_and_kpi_where_and_when_it_runs(dark: Any) -> None:
    regional, split, power, test = dark
    before, after = regional.world, test.world
    window = slice(40, 40 + power.weeks)
    assert power.weeks in (4, 6, 8, 10, 12) and 0.2 < test.spend_share < 0.8
    spend = after.frame[HANDOFF_CHANNEL].to_numpy()
    planned = before.frame[HANDOFF_CHANNEL].to_numpy()
    assert spend[window] == pytest.approx(planned[window] * (1 - test.spend_share))
    assert spend[:40] == pytest.approx(planned[:40]) and spend[window.stop :] == pytest.approx(planned[window.stop :])
    assert test.withheld_spend == pytest.approx(planned[window].sum() - spend[window].sum())
    # the control regions do not move; the treatment regions lose the true incremental KPI in the window
    lost = test.panel["kpi"].to_numpy() - regional.panel["kpi"].to_numpy()
    control = regional.panel["region"].isin(split.control).to_numpy()
    assert np.all(lost[control] == 0) and test.true_incremental_kpi < 0
    in_window = regional.panel["date"].isin(before.frame["week"].iloc[window]).to_numpy()
    assert lost[in_window].sum() == pytest.approx(test.true_incremental_kpi)
    assert after.frame[after.kpi].sum() - before.frame[before.kpi].sum() == pytest.approx(
        lost.sum() + regional.idiosyncratic.sum()
    )


def test_the_read_becomes_a_lift_row(dark: Any) -> None:
    regional, split, power, test = dark
    row, est = read_dark_test(test, split, "revenue")
    assert est.low < est.incremental < est.high and est.incremental < 0
    assert abs(est.incremental - test.true_incremental_kpi) < 4 * est.standard_error
    start = regional.world.frame["week"].iloc[40].date()
    assert row["start_date"] == start and (row["end_date"] - start).days == 7 * power.weeks - 1
    assert row["spend_change"] == -test.withheld_spend and row["spend"] == test.spend_as_run
    assert row["incremental_kpi"] == est.incremental and row["standard_error"] == est.standard_error
    assert row["incremental_kpi"] / row["spend_change"] > 0  # a cut that lost KPI: a positive ROI
    assert row["scope"] == "immediate" and row["channel"] == HANDOFF_CHANNEL and row["method"] == "xmo geo"


def test_the_hand_off_target_is_the_ratio_of_mean_errors() -> None:
    handoff = [{"roi_error_without": 1.0, "roi_error_with": 0.2}, {"roi_error_without": 3.0, "roi_error_with": 1.8}]
    geo = [{"coverage": 0.9, "fpr": 0.04, "power": 0.75}, {"coverage": 0.86, "fpr": 0.06, "power": 0.83}]
    targets = summarize_designs(geo, [], handoff)
    assert targets["handoff_roi_error_ratio"] == {"value": 0.5, "target": 0.5, "met": True}
    assert targets["geo_coverage_lowest"]["value"] == 0.86 and targets["geo_fpr"]["met"] is False
    assert targets["geo_power_gap"]["value"] == pytest.approx(0.05)
    assert targets["time_fpr"] == {"value": None, "target": 0.05, "met": False}
