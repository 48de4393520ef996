"""The final LightGBM fit of a training job, on this machine or on a Dask cluster, calibrated and scored alike.

On a cluster (``xmo train --engine dask``) the training split is read partition by partition from the training
set's files on the workers (``models.dask_lightgbm``); the validation and test splits, already in memory for
calibration and evaluation, are scored locally with the returned booster. Dask is imported only when asked for.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from features.dataset import Dataset
from features.definitions import FEATURE_NAMES
from models.calibration import Calibrator, choose_calibration
from models.conversion import ConversionModel
from training.checks import Splits


@dataclass
class FittedModel:
    """The final LightGBM booster (local or Dask), its calibrator and the raw test scores."""

    model: ConversionModel
    calibrator: Calibrator
    p_test: np.ndarray
    fit_seconds: float


def _calibrated(model: ConversionModel, splits: Splits, seconds: float) -> FittedModel:
    calibrator = choose_calibration(model.predict_proba(splits.X_valid)[:, 1], splits.y_valid)
    return FittedModel(model, calibrator, model.predict_proba(splits.X_test)[:, 1], seconds)


def fit_local(params: dict[str, Any], splits: Splits, *, monotone: bool) -> FittedModel:
    """Fit in this process, early stopping on the validation split."""
    started = time.perf_counter()
    model = ConversionModel(**{**params, "monotone": monotone})
    model.fit(splits.X_train, splits.y_train, eval_set=(splits.X_valid, splits.y_valid))
    return _calibrated(model, splits, time.perf_counter() - started)


def fit_on_dask(
    params: dict[str, Any], dataset: Dataset, splits: Splits, *, monotone: bool, scheduler: str | None
) -> FittedModel:
    """Fit on the cluster at ``scheduler`` (a LocalCluster when None), early stopping replayed on valid."""
    from features.dask_engine import dask_client
    from models.dask_lightgbm import dask_frame_from_dataset, fit_dask_booster

    settings = {**params, "monotone": monotone}
    template = ConversionModel(**settings)
    features = list(FEATURE_NAMES)
    files = [dataset.path / f.path for f in dataset.manifest.data_files]
    with dask_client(scheduler) as client:
        result = fit_dask_booster(
            client,
            dask_frame_from_dataset(files, "train", features),
            "converted",
            features,
            template.lgbm_params(features),
            valid=dask_frame_from_dataset(files, "valid", features),
            early_stopping_rounds=template.early_stopping_rounds,
        )
    model = ConversionModel.from_booster(result.booster, result.best_iteration, features, **settings)
    return _calibrated(model, splits, result.timings.total_s)
