"""bench_experiments at a tiny size: the worlds draw what they say, the figures are sane, the JSON line is whole."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from bench_experiments import WORLDS, main, run_world, simulate_visitors, summarize

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
    monkeypatch.setattr("sys.argv", ["bench_experiments.py", "--quick", "--sims", "20"])
    main()
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].split() == [world.name for world in WORLDS]
    figures = json.loads(lines[-1])
    assert figures["benchmark"] == "experiments" and figures["quick"] is True
    assert [row["world"]["name"] for row in figures["worlds"]] == [world.name for world in WORLDS]
    assert all(row["sims"] == 20 for row in figures["worlds"])
    assert set(figures["targets"]) == TARGET_NAMES
    assert any(line.startswith("targets: ") for line in lines)
