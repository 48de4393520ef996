"""``xmo train --engine dask``: the final LightGBM fit on a Dask cluster, calibrated and scored like a local one.

The training split is read partition by partition from the training set's files on the workers
(``models.dask_lightgbm``); the validation and test splits, already in memory for calibration and
evaluation, are scored locally with the returned booster.
"""

from __future__ import annotations

from typing import Any

from features.dask_engine import dask_client
from features.dataset import Dataset
from features.definitions import FEATURE_NAMES
from models.calibration import choose_calibration
from models.conversion import ConversionModel
from models.dask_lightgbm import dask_frame_from_dataset, fit_dask_booster
from training.checks import Splits
from training.train import FittedModel


def fit_on_dask(
    params: dict[str, Any], dataset: Dataset, splits: Splits, *, monotone: bool, scheduler: str | None
) -> FittedModel:
    """Fit on the cluster at ``scheduler`` (a LocalCluster when None), early stopping replayed on valid."""
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
            template._lgbm_params(features),
            valid=dask_frame_from_dataset(files, "valid", features),
            early_stopping_rounds=template.early_stopping_rounds,
        )
    model = ConversionModel.from_booster(result.booster, result.best_iteration, features, **settings)
    calibrator = choose_calibration(model.predict_proba(splits.X_valid)[:, 1], splits.y_valid)
    return FittedModel(model, calibrator, model.predict_proba(splits.X_test)[:, 1], result.timings.total_s)
