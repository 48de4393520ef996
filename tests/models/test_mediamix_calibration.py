"""Lift tests calibrate the media-mix model: rows read into the model's periods, the model held to a measured
incremental KPI within its standard error, tests outside the fitted weeks skipped, unknown channels refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models.mediamix import MediaMixModel
from models.mediamix_calibration import counterfactual, lift_rows
from models.mediamix_design import validate_frame
from models.mediamix_simulation import MediaMixWorld, simulate_media_mix
from models.mediamix_validation import time_slice_validation

WEEKS = 104


@pytest.fixture(scope="module")
def world() -> MediaMixWorld:
    return simulate_media_mix(WEEKS, 3, noise=0.06, seed=11, period_days=7)


def _window(world: MediaMixWorld, channel: str) -> tuple[int, int]:
    """Four weeks with spend on ``channel`` around the middle of the series."""
    spend = world.frame[channel].to_numpy()
    first = next(t for t in range(WEEKS // 2, WEEKS - 4) if (spend[t : t + 4] > 0).all())
    return first, first + 4


def _true_incremental(world: MediaMixWorld, channel: str, first: int, end: int, change: float) -> float:
    """What the true curve bought with ``change`` spread over the window in proportion to the spend."""
    spend = world.frame[channel].to_numpy(dtype=float)
    cut = spend.copy()
    cut[first:end] -= change * spend[first:end] / spend[first:end].sum()
    truth = world.truth[channel]
    return float((truth.predict(spend) - truth.predict(cut))[first:end].sum())


def _test(world: MediaMixWorld, channel: str, measured: float | None = None, se_share: float = 0.05) -> pd.DataFrame:
    first, end = _window(world, channel)
    dates = world.frame["date"]
    spend = float(world.frame[channel].iloc[first:end].sum())
    change = -0.3 * spend  # the test cut a third of the spend in some regions
    true = _true_incremental(world, channel, first, end, change)
    value = true if measured is None else measured
    return pd.DataFrame(
        [
            {
                "channel": channel,
                "start_date": dates.iloc[first].date(),
                "end_date": (dates.iloc[end - 1] + pd.Timedelta(days=6)).date(),
                "incremental_kpi": value,
                "standard_error": abs(true) * se_share,
                "spend": spend + change,
                "spend_change": change,
                "scope": "immediate",
            }
        ]
    )


def test_rows_land_on_the_weeks_of_their_window(world: MediaMixWorld) -> None:
    data = validate_frame(world.X, world.y, None, world.controls, period_days=7)
    tests = _test(world, "tv")
    first, end = _window(world, "tv")
    rows, warnings = lift_rows(tests, data, WEEKS)
    assert warnings == [] and len(rows) == 1
    row = rows[0]
    assert row.channel == "tv" and row.channel_index == data.channels.index("tv")
    assert np.flatnonzero(row.weights).tolist() == list(range(first, end)) and (row.weights[first:end] == 1).all()
    spend = data.spend[:, row.channel_index]
    assert row.change.sum() == pytest.approx(float(tests["spend_change"].iloc[0]))
    in_window = spend[first:end]
    assert row.change[first:end] == pytest.approx(row.change[first:end].sum() * in_window / in_window.sum())
    assert (counterfactual(spend, row)[first:end] > spend[first:end]).all()  # a cut: without it, more was spent
    # a window that ends mid-week counts that week by its days; scope total counts every week after the window
    half = tests.assign(end_date=pd.Timestamp(tests["end_date"].iloc[0]) - pd.Timedelta(days=4), scope="total")
    row = lift_rows(half, data, WEEKS)[0][0]
    assert row.weights[end - 1] == pytest.approx(3 / 7) and (row.weights[end:] == 1).all()


def test_roi_rows_and_bad_rows(world: MediaMixWorld) -> None:
    data = validate_frame(world.X, world.y, None, world.controls, period_days=7)
    tests = _test(world, "tv")
    as_roi = tests.drop(columns=["incremental_kpi", "standard_error"]).assign(roi=2.0, roi_se=0.5)
    row = lift_rows(as_roi, data, WEEKS)[0][0]
    change = float(tests["spend_change"].iloc[0])
    assert row.measured == pytest.approx(2.0 * change) and row.standard_error == pytest.approx(0.5 * abs(change))
    with pytest.raises(InvalidInput, match="'podcast', which the model does not have"):
        lift_rows(tests.assign(channel="podcast"), data, WEEKS)
    with pytest.raises(InvalidInput, match="standard error must be above 0"):
        lift_rows(tests.assign(standard_error=0.0), data, WEEKS)
    with pytest.raises(InvalidInput, match="need the column"):
        lift_rows(tests.drop(columns=["channel"]), data, WEEKS)
    rows, warnings = lift_rows(tests, data, _window(world, "tv")[0] + 2)  # the fit ends inside the window
    assert rows == [] and "not inside the fitted weeks" in warnings[0]


def test_a_lift_test_holds_the_model_within_its_standard_error(world: MediaMixWorld) -> None:
    channel = "tv"
    true = float(_test(world, channel)["incremental_kpi"].iloc[0])
    wrong = _test(world, channel, measured=1.6 * true, se_share=0.03)  # an experiment that says 60 % more
    plain = MediaMixModel(controls=world.controls, n_draws=0, holdout_share=0.0, period_days=7)
    plain.fit(world.X, world.y)
    held = MediaMixModel(controls=world.controls, n_draws=5, holdout_share=0.0, period_days=7)
    held.fit(world.X, world.y, lift_tests=wrong)
    [entry] = held.fit_report_["calibration"]
    assert set(entry) >= {"channel", "start_date", "end_date", "measured", "standard_error", "model", "z"}
    assert entry["channel"] == channel and entry["measured"] == pytest.approx(1.6 * true)
    data = validate_frame(world.X, world.y, None, world.controls, period_days=7)
    row = lift_rows(wrong, data, WEEKS)[0][0]
    before = plain._lift_model(data, plain.fit_, row)
    # the uncalibrated model sits near the truth; the calibrated one moves most of the way to the experiment
    assert abs(before - true) < 0.3 * abs(true)
    assert abs(entry["model"] - 1.6 * true) < 0.5 * abs(before - 1.6 * true)
    assert entry["z"] == pytest.approx((entry["model"] - entry["measured"]) / entry["standard_error"])
    assert plain.fit_report_["calibration"] == []


def test_a_test_outside_the_fitted_weeks_is_skipped_with_a_warning(world: MediaMixWorld) -> None:
    tests = _test(world, "tv")
    late = tests.assign(start_date=pd.Timestamp("2031-01-06"), end_date=pd.Timestamp("2031-01-19"))
    model = MediaMixModel(controls=world.controls, n_draws=0, holdout_share=0.0, period_days=7)
    model.fit(world.X, world.y, lift_tests=late)
    assert model.fit_report_["calibration"] == []
    assert any("skipped" in w and "not inside the fitted weeks" in w for w in model.warnings_)
    with pytest.raises(InvalidInput, match="does not have"):
        model.fit(world.X, world.y, lift_tests=tests.assign(channel="podcast"))


def test_cross_validation_folds_use_only_tests_inside_their_training_weeks(world: MediaMixWorld) -> None:
    tests = _test(world, "tv")
    model = MediaMixModel(controls=world.controls, n_draws=0, period_days=7)
    report = time_slice_validation(model, world.X, world.y, folds=2, interval_draws=0, lift_tests=tests)
    assert len(report.folds) == 2 and all(f.mape is not None and f.mape < 0.2 for f in report.folds)


def test_a_shared_roi_prior_draws_the_channels_rois_together() -> None:
    world = simulate_media_mix(104, 3, noise=0.05, seed=8, period_days=7)

    def rois(roi_prior_sd: float) -> np.ndarray:
        model = MediaMixModel(controls=world.controls, n_draws=0, period_days=7, holdout_share=0.0)
        model.set_params(roi_prior_sd=roi_prior_sd).fit(world.X, world.y)
        assert model.fit_report_["calibration"] == []  # the prior's rows are not lift tests
        return np.array([row["roi"] for row in model.fit_report_["decomposition"]["channels"]])

    free, tight = rois(0.0), rois(0.02)
    assert tight.max() / tight.min() < 1.15 < free.max() / free.min()
