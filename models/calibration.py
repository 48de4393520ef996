"""Probability calibration fitted on held-out (validation) predictions, stored as plain numbers.

A :class:`Calibrator` maps a model's raw probabilities to calibrated ones: ``isotonic`` (a monotone step
function, kept as its thresholds and applied with ``np.interp``), ``sigmoid`` (Platt scaling: a logistic
regression on the logit of the raw probability, kept as its two coefficients) or ``none``.
:func:`choose_calibration` picks the method by cross-validated log loss on the validation predictions.
scikit-learn fits the maps; only numbers are kept, so ``to_dict`` is JSON and nothing is pickled.
"""

from __future__ import annotations

from typing import Any, Final, Literal, cast, get_args

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.model_selection import StratifiedKFold

from core.errors import InvalidInput

Method = Literal["none", "sigmoid", "isotonic"]
# Candidates from the simplest to the most flexible; ties and near-ties go to the simpler one.
METHODS: Final[tuple[Method, ...]] = get_args(Method)
# Calibrated probabilities stay within [EPS, 1 - EPS]: a conversion model should never say "certainly
# not" (an isotonic step with no conversions in it would say 0) and Platt needs a finite logit.
EPS: Final = 1e-6
# Platt scaling is meant to be unregularized; a huge C is that on every scikit-learn version.
_PLATT_C: Final = 1e6


def _logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(p, EPS, 1 - EPS)
    return np.log(clipped / (1 - clipped))


def _probabilities(p: Any, name: str = "p_raw") -> np.ndarray:
    """``p`` as a 1-D float64 array of finite values in [0, 1], or InvalidInput."""
    try:
        array = np.asarray(p, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be numbers") from exc
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be one-dimensional; got shape {array.shape}")
    if not np.all(np.isfinite(array)) or np.any((array < 0) | (array > 1)):
        raise InvalidInput(f"{name} must hold probabilities in [0, 1] (no NaN)")
    return array


def _labels(p: np.ndarray, y: Any) -> np.ndarray:
    """``y`` as 0/1 ints of the same length as ``p``, with both classes present, or InvalidInput."""
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(p):
        raise InvalidInput(f"y must be one-dimensional with one label per probability ({len(p)}); got {labels.shape}")
    if not np.isin(labels, [0, 1]).all():
        raise InvalidInput("y must hold 0/1 labels (converted or not)")
    labels = labels.astype(np.int64)
    if len(np.unique(labels)) < 2:
        raise InvalidInput("calibration needs both classes in y (sessions with and without conversions)")
    return labels


def _method(method: Any) -> Method:
    if method not in METHODS:
        raise InvalidInput(f"unknown calibration method {method!r}: use one of {', '.join(METHODS)}")
    return cast(Method, method)


class Calibrator(BaseEstimator):
    """A map from raw to calibrated probabilities: ``method`` is "isotonic", "sigmoid" (Platt) or "none".

    A scikit-learn estimator: ``__init__`` stores ``method`` only; ``fit(p_raw, y)`` checks it and learns the
    map from held-out predictions; ``transform(p_raw)`` applies it. ``scores_`` holds the cross-validated log
    loss of each candidate when :func:`choose_calibration` made it (else empty). "none" needs no fit.
    """

    def __init__(self, method: Method = "isotonic") -> None:
        self.method = method

    @property
    def fitted(self) -> bool:
        """Whether ``transform`` can run (a "none" calibrator always can)."""
        if self.method == "isotonic":
            return getattr(self, "x_", None) is not None
        if self.method == "sigmoid":
            return getattr(self, "coef_", None) is not None
        return True

    @property
    def scores_(self) -> dict[str, float]:
        """Cross-validated log loss per candidate method (set by :func:`choose_calibration`; else empty)."""
        return dict(getattr(self, "_scores", {}))

    @scores_.setter
    def scores_(self, scores: dict[str, float]) -> None:
        self._scores = dict(scores)

    def fit(self, p_raw: Any, y: Any) -> Calibrator:
        """Learn the map from raw probabilities and 0/1 outcomes of held-out sessions."""
        method = _method(self.method)
        p = _probabilities(p_raw)
        labels = _labels(p, y)
        if method == "isotonic":
            iso = IsotonicRegression(y_min=EPS, y_max=1 - EPS, out_of_bounds="clip").fit(p, labels)
            self.x_ = np.asarray(iso.X_thresholds_, dtype=np.float64)  # thresholds: raw probabilities ...
            self.y_ = np.asarray(iso.y_thresholds_, dtype=np.float64)  # ... and their calibrated values
        elif method == "sigmoid":
            platt = LogisticRegression(C=_PLATT_C, max_iter=1000).fit(_logit(p).reshape(-1, 1), labels)
            self.coef_ = float(platt.coef_[0, 0])  # sigmoid(coef_ * logit(p) + intercept_)
            self.intercept_ = float(platt.intercept_[0])
        return self

    @property
    def keeps_order(self) -> bool:
        """Whether calibrated probabilities rank sessions as the raw ones do (a Platt slope <= 0 reverses them)."""
        return self.method != "sigmoid" or getattr(self, "coef_", None) is None or self.coef_ > 0

    def transform(self, p_raw: Any) -> np.ndarray:
        """Calibrated probabilities of raw ones (a "none" calibrator returns them unchanged)."""
        p = _probabilities(p_raw)
        _method(self.method)
        if not self.fitted:
            raise NotFittedError(f"this {self.method} Calibrator is not fitted yet: call fit first")
        if self.method == "isotonic":
            # np.interp holds the end values outside the thresholds: out-of-range inputs are clipped.
            return np.clip(np.interp(p, self.x_, self.y_), EPS, 1 - EPS)
        if self.method == "sigmoid":
            z = self.coef_ * _logit(p) + self.intercept_
            return np.clip(1.0 / (1.0 + np.exp(-z)), EPS, 1 - EPS)
        return p

    def to_dict(self) -> dict[str, Any]:
        """The calibrator as JSON-ready numbers (``from_dict`` reads it back)."""
        if not self.fitted:
            raise NotFittedError(f"this {self.method} Calibrator is not fitted yet: call fit first")
        data: dict[str, Any] = {"method": self.method}
        if self.method == "isotonic":
            data["x"] = self.x_.tolist()
            data["y"] = self.y_.tolist()
        elif self.method == "sigmoid":
            data["coef"] = self.coef_
            data["intercept"] = self.intercept_
        if self.scores_:
            data["scores"] = self.scores_
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Calibrator:
        """A calibrator from ``to_dict`` output; InvalidInput when it is malformed."""
        calibrator = cls(_method(data.get("method", "none")))
        try:
            if calibrator.method == "isotonic":
                x = np.asarray(data["x"], dtype=np.float64)
                y = np.asarray(data["y"], dtype=np.float64)
                if x.ndim != 1 or x.shape != y.shape or len(x) == 0 or np.any(np.diff(x) < 0):
                    raise InvalidInput("isotonic calibration needs equal-length, increasing x and y")
                calibrator.x_, calibrator.y_ = x, y
            elif calibrator.method == "sigmoid":
                calibrator.coef_ = float(data["coef"])
                calibrator.intercept_ = float(data["intercept"])
            calibrator.scores_ = {str(k): float(v) for k, v in data.get("scores", {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"malformed {calibrator.method} calibration: {exc}") from exc
        return calibrator


def _cv_log_loss(method: Method, p: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Log loss of ``method`` on held-out folds, fitted on the other folds (pooled over all sessions)."""
    calibrated = np.empty_like(p)
    for fit_index, score_index in splits:
        fold = Calibrator(method).fit(p[fit_index], y[fit_index])
        if not fold.keeps_order:
            return float("inf")
        calibrated[score_index] = fold.transform(p[score_index])
    return float(log_loss(y, np.clip(calibrated, EPS, 1 - EPS), labels=[0, 1]))


def choose_calibration(
    p_valid: Any, y_valid: Any, *, folds: int = 5, seed: int = 0, tolerance: float = 1e-3
) -> Calibrator:
    """The calibration with the lowest cross-validated log loss, refitted on all validation predictions.

    Each candidate ("none", "sigmoid", "isotonic") is fitted on ``folds - 1`` stratified folds of the
    validation set and scored on the held-out fold. A more flexible method wins only when it lowers the
    log loss by more than ``tolerance`` (relative) below the best simpler one, so a well-calibrated model
    stays untouched. Platt scaling with a slope <= 0 (on a fold or on all sessions) would reverse the model's
    ranking and is never chosen. The result's ``scores_`` hold each candidate's cross-validated log loss
    (infinite for a Platt fit that reversed the ranking on some fold). With fewer
    than two sessions in the rarer class there is nothing to cross-validate and "none" is returned.
    """
    if folds < 2:
        raise InvalidInput(f"folds must be at least 2; got {folds}")
    p = _probabilities(p_valid, "p_valid")
    y = _labels(p, y_valid)
    k = min(folds, int(np.bincount(y).min()))
    if k < 2:
        chosen = Calibrator("none")
        chosen.scores_ = {"none": float(log_loss(y, np.clip(p, EPS, 1 - EPS), labels=[0, 1]))}
        return chosen
    splits = list(StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(p.reshape(-1, 1), y))
    scores: dict[str, float] = {method: _cv_log_loss(method, p, y, splits) for method in METHODS}
    candidates = dict(scores)
    while True:
        best: Method = METHODS[0]
        for method in METHODS[1:]:
            if candidates[method] < candidates[best] * (1 - tolerance):
                best = method
        chosen = Calibrator(best).fit(p, y)
        if chosen.keeps_order:  # "none" always does, so this ends
            break
        candidates[best] = float("inf")  # a calibration must never turn the model's ranking upside down
    chosen.scores_ = scores
    return chosen
