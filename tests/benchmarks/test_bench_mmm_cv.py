"""bench_mmm's cross-validation columns: xmo's time-slice CV on the training weeks, summarized per model."""

from __future__ import annotations

import pytest
from bench_mmm import _cv_fields, _mean_or_none, cross_validate_xmo
from mmm_worlds import simulate_weekly_world


def test_xmo_is_cross_validated_on_the_training_weeks_only() -> None:
    world = simulate_weekly_world("plain", 7, weeks=104, n_channels=4)
    report, seconds = cross_validate_xmo(world, 83)
    assert len(report.folds) == 4 and seconds > 0
    last = report.folds[-1]
    assert last.n_train + last.n_test == 83  # the benchmark's test weeks (84..104) stay unseen
    fields = _cv_fields(report, seconds)
    assert fields["cv_mean_mape"] == pytest.approx(sum(f.mape for f in report.folds) / 4)
    assert fields["cv_worst_r2"] == min(f.r2 for f in report.folds)


def test_a_model_without_cross_validation_reports_none() -> None:
    assert _cv_fields(None, None)["cv_mean_mape"] is None
    assert _mean_or_none([0.1, None]) is None and _mean_or_none([0.1, 0.3]) == pytest.approx(0.2)
