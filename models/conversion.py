"""The conversion model: LightGBM on session features, categoricals handled natively."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

# Features where more engagement never lowers the score (``monotone=True``); every other feature is free.
MONOTONE_INCREASING: tuple[str, ...] = ("pageviews", "clicks", "duration_s", "prev_conversions")


def monotone_constraints(columns: Any) -> list[int]:
    """LightGBM ``monotone_constraints`` for these columns, by name: +1 for engagement features, else 0."""
    return [1 if str(column) in MONOTONE_INCREASING else 0 for column in columns]


class ConversionModel(ClassifierMixin, BaseEstimator):
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

    def _lgbm_params(self, columns: Any) -> dict[str, Any]:
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

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        tags.input_tags.allow_nan = True
        return tags

    def _frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        """DataFrames keep their categoricals; anything else is validated as a numeric array."""
        if isinstance(X, pd.DataFrame):
            if reset:
                self.feature_names_in_ = np.asarray(X.columns, dtype=object)
                self.n_features_in_ = X.shape[1]
            else:
                missing = set(self.feature_names_in_) - set(X.columns)
                if missing:
                    raise ValueError(f"X lacks the features {sorted(missing)}")
                X = X[list(self.feature_names_in_)]
            return X
        array = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan", dtype=np.float64)
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> ConversionModel:
        """Fit on ``X``/``y`` (two classes); with ``eval_set`` stop early on its log loss."""
        frame = self._frame(X, reset=True)
        y_arr = column_or_1d(np.asarray(y), warn=True)
        check_consistent_length(frame, y_arr)
        check_classification_targets(y_arr)
        if len(np.unique(y_arr)) < 2:
            raise ValueError(
                "the conversion model needs 2 classes (sessions with and without conversions); got 1 class"
            )
        target_type = type_of_target(y_arr)
        if target_type != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {target_type}.")
        self.classes_, encoded = np.unique(y_arr, return_inverse=True)
        model = lgb.LGBMClassifier(**self._lgbm_params(frame.columns))
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

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Columns: P(no conversion), P(conversion)."""
        check_is_fitted(self, "booster_")
        p = np.asarray(
            self.booster_.predict(self._frame(X, reset=False), num_iteration=self.best_iteration_), dtype=np.float64
        )
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The more likely class (0 or 1)."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] >= 0.5).astype(int)]

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature contributions to the log-odds (LightGBM ``pred_contrib``), plus ``bias``."""
        check_is_fitted(self, "booster_")
        frame = self._frame(X, reset=False)
        values = self.booster_.predict(frame, num_iteration=self.best_iteration_, pred_contrib=True)
        return pd.DataFrame(values, columns=[*frame.columns, "bias"], index=frame.index)
