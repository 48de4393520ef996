"""The input contract every conversion classifier shares (the LightGBM model and its baselines).

``X`` is the frame of ``features.definitions.prepare_features`` as is (``category`` and ``float64`` columns with
missing values; the feature names are remembered at ``fit``) or a numeric array; ``y`` holds exactly two classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import Tags
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data


class FrameClassifier(ClassifierMixin, BaseEstimator):
    """Shared plumbing: DataFrame or array input, 0/1 encoding of two classes, probabilities out.

    Subclasses implement ``fit`` (with :meth:`_frame` and :meth:`_encode_y`) and :meth:`_positive_proba`.
    """

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

    def _encode_y(self, frame: pd.DataFrame, y: Any) -> np.ndarray:
        """``y`` as 0/1 (``classes_`` keeps the labels); ValueError unless there are exactly two classes."""
        y_arr = column_or_1d(np.asarray(y), warn=True)
        check_consistent_length(frame, y_arr)
        check_classification_targets(y_arr)
        if len(np.unique(y_arr)) < 2:
            raise ValueError(
                f"{type(self).__name__} needs 2 classes (sessions with and without conversions); got 1 class"
            )
        target_type = type_of_target(y_arr)
        if target_type != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {target_type}.")
        self.classes_, encoded = np.unique(y_arr, return_inverse=True)
        return np.asarray(encoded)

    def _positive_proba(self, frame: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X: Any) -> np.ndarray:
        """Columns: P(no conversion), P(conversion)."""
        check_is_fitted(self, "classes_")
        p = np.asarray(self._positive_proba(self._frame(X, reset=False)), dtype=np.float64)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        """The more likely class."""
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] >= 0.5).astype(int)]
