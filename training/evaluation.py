"""Metrics of a conversion model on held-out sessions, overall and per slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Mean |observed rate − predicted probability| over equal-count bins, weighted by bin size."""
    order = np.argsort(p)
    total = 0.0
    for chunk in np.array_split(order, bins):
        if len(chunk):
            total += len(chunk) * abs(float(y[chunk].mean()) - float(p[chunk].mean()))
    return total / max(len(p), 1)


def lift_at(y: np.ndarray, p: np.ndarray, fraction: float = 0.1) -> float:
    """Conversion rate of the top ``fraction`` of sessions by score, relative to the overall rate."""
    base = float(y.mean())
    if base == 0:
        return float("nan")
    k = max(1, round(len(p) * fraction))
    top = np.argsort(-p)[:k]
    return float(y[top].mean()) / base


def classification_metrics(y_true: np.ndarray | pd.Series, p: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, log loss, Brier score, expected calibration error, lift at top 10 %."""
    y = np.asarray(y_true).astype(int)
    p = np.clip(np.asarray(p, dtype=float), 1e-7, 1 - 1e-7)
    metrics = {
        "sessions": float(len(y)),
        "conversion_rate": float(y.mean()) if len(y) else float("nan"),
        "log_loss": float(log_loss(y, p, labels=[0, 1])) if len(y) else float("nan"),
        "brier": float(brier_score_loss(y, p)) if len(y) else float("nan"),
        "ece": expected_calibration_error(y, p) if len(y) else float("nan"),
    }
    both = len(np.unique(y)) == 2
    metrics["roc_auc"] = float(roc_auc_score(y, p)) if both else float("nan")
    metrics["pr_auc"] = float(average_precision_score(y, p)) if both else float("nan")
    metrics["lift_at_10"] = lift_at(y, p) if both else float("nan")
    return metrics


def slice_metrics(
    frame: pd.DataFrame, y_true: np.ndarray, p: np.ndarray, columns: list[str], min_sessions: int = 200
) -> pd.DataFrame:
    """The same metrics per value of each slicing column (slices smaller than ``min_sessions`` skipped)."""
    rows = []
    y = np.asarray(y_true).astype(int)
    for column in columns:
        values = frame[column].astype(object).fillna("(none)").astype(str).to_numpy()
        for value in pd.unique(values):
            mask = values == value
            if mask.sum() < min_sessions:
                continue
            rows.append({"slice": column, "value": value, **classification_metrics(y[mask], p[mask])})
    return pd.DataFrame(rows)
