"""Rolling-origin cross-validation of the media-mix model on small weekly worlds."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models.mediamix import MediaMixModel
from models.mediamix_simulation import MediaMixWorld, simulate_media_mix
from models.mediamix_validation import TimeSliceReport, time_slice_validation


class RecordingModel(MediaMixModel):
    """A media-mix model that records the last date of every training set it is fitted on."""

    last_train_dates: ClassVar[list[pd.Timestamp]] = []

    def fit(self, X: pd.DataFrame, y: Any, lift_tests: pd.DataFrame | None = None) -> RecordingModel:
        self.last_train_dates.append(pd.Timestamp(X[self.date_column].max()))
        super().fit(X, y, lift_tests=lift_tests)
        return self


@pytest.fixture(scope="module")
def world() -> MediaMixWorld:
    return simulate_media_mix(104, 3, noise=0.0, seed=3, period_days=7)


def _model(world: MediaMixWorld) -> MediaMixModel:
    return MediaMixModel(controls=world.controls, n_draws=5, period_days=7)


@pytest.fixture(scope="module")
def report(world: MediaMixWorld) -> TimeSliceReport:
    RecordingModel.last_train_dates.clear()
    model = RecordingModel(controls=world.controls, n_draws=5, period_days=7)
    return time_slice_validation(model, world.X, world.y, folds=3)


def test_origins_increase_and_training_never_reaches_the_test_window(
    world: MediaMixWorld, report: TimeSliceReport
) -> None:
    origins = [pd.Timestamp(f.origin) for f in report.folds]
    assert len(origins) == 3 and origins == sorted(origins) and len(set(origins)) == 3
    assert report.horizon == 10  # a tenth of 104 weeks (more than four weeks)
    assert RecordingModel.last_train_dates == [o - pd.Timedelta(days=7) for o in origins]
    dates = pd.to_datetime(world.X["date"])
    for fold in report.folds:
        assert dates.iloc[fold.n_train] == pd.Timestamp(fold.origin) and fold.n_test == 10
    assert report.folds[-1].n_train + report.folds[-1].n_test == len(world.y)


def test_a_noise_free_world_scores_near_perfect_on_every_fold(report: TimeSliceReport) -> None:
    for fold in report.folds:
        assert fold.mape is not None and fold.mape < 1e-6
        assert fold.r2 is not None and fold.r2 > 0.9999
        assert fold.coverage is not None and 0.0 <= fold.coverage <= 1.0
    assert report.warnings == [] and report.level == 0.9 and "coverage" in report.mean
    out = report.to_dict()
    assert out["cadence"] == "week" and len(out["folds"]) == 3 and out["mean"]["mape"] < 1e-6


def test_an_unexplained_jump_in_the_last_fold_warns(world: MediaMixWorld) -> None:
    y = world.y.copy()
    y[-8:] *= 1.6  # demand jumps in the last eight weeks: nothing in the inputs explains it
    result = time_slice_validation(_model(world), world.X, y, folds=3)
    last = result.folds[-1]
    assert last.mape is not None and last.mape > 0.2
    assert result.worst["mape"] == last.mape
    assert any(w.startswith("R² below 0 in 1 of 3 folds") for w in result.warnings)
    assert any("unstable" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("folds", "horizon", "min_train", "message"),
    [(10, None, None, "too few for 10 folds"), (3, 30, 26, "too few"), (0, None, None, "folds must be")],
)
def test_a_series_too_short_for_the_folds_is_refused(
    world: MediaMixWorld, folds: int, horizon: int | None, min_train: int | None, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        time_slice_validation(_model(world), world.X, world.y, folds=folds, horizon=horizon, min_train=min_train)


def test_rows_and_order_are_checked(world: MediaMixWorld) -> None:
    with pytest.raises(InvalidInput, match="rows"):
        time_slice_validation(_model(world), world.X, world.y[:-1])
    with pytest.raises(InvalidInput, match="increasing"):
        time_slice_validation(_model(world), world.X.iloc[::-1], np.asarray(world.y)[::-1])


def test_no_interval_draws_means_no_coverage(world: MediaMixWorld) -> None:
    result = time_slice_validation(_model(world), world.X, world.y, folds=2, interval_draws=0)
    assert all(f.coverage is None for f in result.folds) and result.mean["coverage"] is None
    assert result.level is None and "not measured" in result.coverage_note
