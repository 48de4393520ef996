"""The conversion model: LightGBM on session features, categoricals handled natively."""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted


class ConversionModel(ClassifierMixin, BaseEstimator):
    """Probability that a session converts, from the features of ``features.definitions``.

    ``X`` is a DataFrame; ``category`` columns are used as LightGBM categoricals. Hyperparameters are
    LightGBM's; ``early_stopping_rounds`` applies when ``fit`` gets an ``eval_set``.
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

    def _lgbm_params(self) -> dict[str, Any]:
        return {
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

    def fit(self, X: pd.DataFrame, y: Any, eval_set: tuple[pd.DataFrame, Any] | None = None) -> ConversionModel:
        """Fit on ``X``/``y``; with ``eval_set`` stop early on its log loss."""
        X = _as_frame(X)
        y_arr = np.asarray(y).astype(int)
        self.classes_ = np.unique(y_arr)
        if len(self.classes_) != 2:
            raise ValueError("the conversion model needs sessions with and without conversions")
        model = lgb.LGBMClassifier(**self._lgbm_params())
        callbacks = []
        fit_kwargs: dict[str, Any] = {}
        if eval_set is not None and self.early_stopping_rounds:
            fit_kwargs["eval_set"] = [(_as_frame(eval_set[0]), np.asarray(eval_set[1]).astype(int))]
            fit_kwargs["eval_metric"] = "binary_logloss"
            callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        model.fit(X, y_arr, callbacks=callbacks, **fit_kwargs)
        self.booster_ = model.booster_
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        self.best_iteration_ = int(model.best_iteration_ or model.n_estimators)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: P(no conversion), P(conversion)."""
        check_is_fitted(self, "booster_")
        X = _as_frame(X)[list(self.feature_names_in_)]
        p = self.booster_.predict(X, num_iteration=self.best_iteration_)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The more likely class (0 or 1)."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the log-odds (LightGBM ``pred_contrib``), plus ``bias``."""
        check_is_fitted(self, "booster_")
        X = _as_frame(X)[list(self.feature_names_in_)]
        values = self.booster_.predict(X, num_iteration=self.best_iteration_, pred_contrib=True)
        return pd.DataFrame(values, columns=[*self.feature_names_in_, "bias"], index=X.index)


def _as_frame(X: Any) -> pd.DataFrame:
    if isinstance(X, pd.DataFrame):
        return X
    array = np.asarray(X)
    return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])
