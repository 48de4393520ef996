"""The conversion model: LightGBM on session features, categoricals handled natively."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from models.frame_classifier import FrameClassifier

# Features where more engagement never lowers the score (``monotone=True``); every other feature is free.
MONOTONE_INCREASING: tuple[str, ...] = ("pageviews", "clicks", "duration_s", "prev_conversions")


def monotone_constraints(columns: Any) -> list[int]:
    """LightGBM ``monotone_constraints`` for these columns, by name: +1 for engagement features, else 0."""
    return [1 if str(column) in MONOTONE_INCREASING else 0 for column in columns]


class ConversionModel(FrameClassifier):
    """Probability that a session converts, from the features of ``features.definitions``.

    ``X`` is a DataFrame; ``category`` columns are used as LightGBM categoricals. Hyperparameters are
    LightGBM's; ``early_stopping_rounds`` applies when ``fit`` gets an ``eval_set``. With ``monotone=True``
    the score never decreases as ``MONOTONE_INCREASING`` features (pageviews, clicks, duration, earlier
    conversions) grow, whatever the other features; the constraints follow the fitted frame's column names.
    """

    def __init__(
        self,
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 40,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 1.0,
        min_split_gain: float = 0.0,
        cat_smooth: float = 10.0,
        early_stopping_rounds: int = 50,
        n_jobs: int = 2,
        random_state: int = 0,
        monotone: bool = False,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.min_split_gain = min_split_gain
        self.cat_smooth = cat_smooth
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.monotone = monotone

    def lgbm_params(self, columns: Any) -> dict[str, Any]:
        """LightGBM's own parameters for these settings and feature columns (also what a Dask fit is given)."""
        params: dict[str, Any] = {
            "objective": "binary",
            "n_estimators": self.n_estimators,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1.0 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "min_split_gain": self.min_split_gain,
            "cat_smooth": self.cat_smooth,
            "n_jobs": self.n_jobs,
            "random_state": self.random_state,
            "verbosity": -1,
        }
        if self.monotone:
            params["monotone_constraints"] = monotone_constraints(columns)
            # "advanced" splits the constrained features the least conservatively of LightGBM's methods,
            # so the constraint costs the least accuracy; it is slower, but only a handful of features are
            # constrained and session sets are small enough that training stays quick.
            params["monotone_constraints_method"] = "advanced"
        return params

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> ConversionModel:
        """Fit on ``X``/``y`` (two classes); with ``eval_set`` stop early on its log loss."""
        frame = self._frame(X, reset=True)
        encoded = self._encode_y(frame, y)
        model = lgb.LGBMClassifier(**self.lgbm_params(frame.columns))
        callbacks: list[Callable[..., Any]] = []
        fit_kwargs: dict[str, Any] = {}
        if eval_set is not None and self.early_stopping_rounds:
            eval_X = self._frame(eval_set[0], reset=False)
            eval_y = np.searchsorted(self.classes_, np.asarray(eval_set[1]))
            fit_kwargs["eval_X"], fit_kwargs["eval_y"] = (eval_X,), (eval_y,)
            fit_kwargs["eval_metric"] = "binary_logloss"
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        model.fit(frame, encoded, callbacks=callbacks, **fit_kwargs)
        self.booster_ = model.booster_
        self.best_iteration_ = int(model.best_iteration_ or self.n_estimators)
        return self

    @classmethod
    def from_booster(
        cls, booster: lgb.Booster, best_iteration: int, feature_names: list[str], **params: Any
    ) -> ConversionModel:
        """A fitted model around a booster trained elsewhere (e.g. on a Dask cluster) with ``params``."""
        model = cls(**params)
        model.booster_ = booster
        model.best_iteration_ = int(best_iteration)
        model.classes_ = np.array([0, 1])
        model.feature_names_in_ = np.asarray(feature_names, dtype=object)
        model.n_features_in_ = len(feature_names)
        return model

    def _positive_proba(self, frame: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(frame, num_iteration=self.best_iteration_), dtype=np.float64)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the log-odds (LightGBM ``pred_contrib``), plus ``bias``."""
        check_is_fitted(self, "booster_")
        frame = self._frame(X, reset=False)
        values = self.booster_.predict(frame, num_iteration=self.best_iteration_, pred_contrib=True)
        return pd.DataFrame(values, columns=[*frame.columns, "bias"], index=frame.index)
