"""Baselines for the conversion model: the same interface as ``ConversionModel``, simpler learners.

Both take the frame of ``features.definitions.prepare_features`` as is (``category`` and ``float64``
columns with missing values) and follow the scikit-learn estimator contract. A LightGBM model that does
not clearly beat them is not worth its complexity.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from models.frame_classifier import FrameClassifier

MISSING_CATEGORY = "__missing__"


def _is_categorical(dtype: Any) -> bool:
    """Columns that are not numbers are categories (``category`` from prepare_features, or strings)."""
    return not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype))


def _as_object(frame: pd.DataFrame) -> np.ndarray:
    """Category values as an object array with NaN for missing (what the imputer and encoder expect)."""
    return frame.astype(object).where(frame.notna(), np.nan).to_numpy(dtype=object)


class LogisticBaseline(FrameClassifier):
    """Logistic regression on one-hot categories and scaled numbers.

    Numbers: median imputation plus a missing indicator, then standard scaling. Categories: missing
    becomes its own level; levels seen fewer than ``min_frequency`` times share an "infrequent" column,
    and levels unseen in training score as infrequent (or as no level when none was infrequent).
    ``eval_set`` is accepted for interface parity and ignored (nothing to stop early).
    """

    def __init__(self, C: float = 1.0, max_iter: int = 2000, min_frequency: int = 20) -> None:
        self.C = C
        self.max_iter = max_iter
        self.min_frequency = min_frequency

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> LogisticBaseline:
        """Fit on ``X``/``y`` (two classes)."""
        frame = self._frame(X, reset=True)
        encoded = self._encode_y(frame, y)
        categorical = [c for c in frame.columns if _is_categorical(frame[c].dtype)]
        numeric = [c for c in frame.columns if c not in categorical]
        numbers = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True), StandardScaler()
        )
        categories = make_pipeline(
            FunctionTransformer(_as_object, feature_names_out="one-to-one"),
            SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY, keep_empty_features=True),
            OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=self.min_frequency),
        )
        columns = ColumnTransformer([("numeric", numbers, numeric), ("categorical", categories, categorical)])
        self.pipeline_ = Pipeline(
            [("columns", columns), ("logistic", LogisticRegression(C=self.C, max_iter=self.max_iter))]
        ).fit(frame, encoded)
        self.n_iter_ = int(np.max(self.pipeline_[-1].n_iter_))
        return self

    def _positive_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.pipeline_.predict_proba(frame)[:, 1])


class HistGradientBoostingBaseline(FrameClassifier):
    """scikit-learn's histogram gradient boosting with native categoricals (``categorical_features="from_dtype"``).

    With ``eval_set`` it stops early on that set's loss (``n_iter_no_change`` rounds); without one it uses
    scikit-learn's "auto" rule (an internal ``validation_fraction`` split once there are over 10,000 rows).
    Each category column keeps its ``max_bins`` most frequent levels; rarer and unseen levels count as
    missing (the estimator allows at most ``max_bins`` levels per feature). Numeric columns with no value
    at all in training are left out.
    """

    def __init__(
        self,
        max_iter: int = 400,
        learning_rate: float = 0.05,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 40,
        l2_regularization: float = 1.0,
        max_bins: int = 255,
        n_iter_no_change: int = 50,
        validation_fraction: float = 0.1,
        random_state: int = 0,
    ) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.random_state = random_state

    def _levels(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Category columns with exactly the levels kept at fit time (others become missing)."""
        out = frame[self.columns_].copy()
        for column, levels in self.levels_.items():
            values = out[column].astype(object)
            out[column] = pd.Categorical(values.where(values.isin(levels)), categories=levels)
        return out

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> HistGradientBoostingBaseline:
        """Fit on ``X``/``y`` (two classes); with ``eval_set`` stop early on its loss."""
        frame = self._frame(X, reset=True)
        encoded = self._encode_y(frame, y)
        categorical = [c for c in frame.columns if _is_categorical(frame[c].dtype)]
        # numbers never observed carry nothing, and scikit-learn's binning fails on them: left out
        self.columns_ = [c for c in frame.columns if c in categorical or frame[c].notna().any()]
        self.levels_: dict[str, list[Any]] = {
            c: frame[c].astype(object).value_counts().index[: self.max_bins].tolist() for c in categorical
        }
        model = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            max_bins=self.max_bins,
            categorical_features="from_dtype",
            early_stopping=True if eval_set is not None else "auto",
            n_iter_no_change=self.n_iter_no_change,
            validation_fraction=self.validation_fraction,
            random_state=self.random_state,
        )
        if eval_set is not None:
            eval_X = self._levels(self._frame(eval_set[0], reset=False))
            eval_y = np.searchsorted(self.classes_, np.asarray(eval_set[1]))
            model.fit(self._levels(frame), encoded, X_val=eval_X, y_val=eval_y)
        else:
            model.fit(self._levels(frame), encoded)
        self.model_ = model
        self.n_iter_ = self.best_iteration_ = int(model.n_iter_)
        return self

    def _positive_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model_.predict_proba(self._levels(frame))[:, 1])
