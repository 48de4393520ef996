"""Evaluation plots logged with each training run: ROC, calibration, feature importance, contributions.

Matplotlib's object API (``Figure``) draws off screen without touching global state (no pyplot, no backend
switch), so importing or calling this from a server or a notebook changes nothing around it.
"""

from __future__ import annotations

from collections.abc import Mapping

import lightgbm as lgb
import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve

Probabilities = Mapping[str, npt.ArrayLike]


def roc_figure(y: npt.ArrayLike, predictions: Probabilities) -> Figure:
    """ROC curves of several models on the same sessions, AUC in the legend."""
    labels = np.asarray(y).astype(int)
    figure = Figure(figsize=(5.5, 5))
    axes = figure.add_subplot()
    for name, p in predictions.items():
        fpr, tpr, _ = roc_curve(labels, np.asarray(p))
        axes.plot(fpr, tpr, label=f"{name} (AUC {roc_auc_score(labels, np.asarray(p)):.3f})")
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="chance")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (test split)")
    axes.legend(loc="lower right", fontsize="small")
    return figure


def calibration_table(y: npt.ArrayLike, p: npt.ArrayLike, bins: int = 10) -> pd.DataFrame:
    """Mean predicted probability vs observed conversion rate in equal-count bins of the predictions."""
    frame = pd.DataFrame({"y": np.asarray(y).astype(int), "p": np.asarray(p, dtype=float)})
    frame["bin"] = pd.qcut(frame["p"].rank(method="first"), q=min(bins, len(frame)), labels=False)
    table = frame.groupby("bin").agg(predicted=("p", "mean"), observed=("y", "mean"), sessions=("y", "size"))
    return table.reset_index(drop=True)


def calibration_figure(y: npt.ArrayLike, predictions: Probabilities, bins: int = 10) -> Figure:
    """Reliability diagram: observed rate against predicted probability, per model."""
    figure = Figure(figsize=(5.5, 5))
    axes = figure.add_subplot()
    top = 0.0
    for name, p in predictions.items():
        table = calibration_table(y, p, bins)
        axes.plot(table["predicted"], table["observed"], marker="o", label=name)
        top = max(top, float(table["predicted"].max()), float(table["observed"].max()))
    axes.plot([0, top], [0, top], linestyle=":", color="grey", label="perfect calibration")
    axes.set(xlabel="mean predicted probability", ylabel="observed conversion rate", title="Calibration (test split)")
    axes.legend(loc="upper left", fontsize="small")
    return figure


def importance_figure(booster: lgb.Booster, top: int = 20) -> Figure:
    """Total gain of each feature's splits, largest first."""
    gains = pd.Series(booster.feature_importance(importance_type="gain"), index=booster.feature_name())
    gains = gains.sort_values().tail(top)
    figure = Figure(figsize=(6, 0.3 * len(gains) + 1.2))
    axes = figure.add_subplot()
    axes.barh(gains.index, gains.to_numpy())
    axes.set(xlabel="total gain", title="LightGBM feature importance")
    figure.tight_layout()
    return figure


def contributions_summary(contributions: pd.DataFrame) -> pd.DataFrame:
    """Mean absolute and mean signed contribution (log-odds) of each feature, largest effect first."""
    values = contributions.drop(columns=["bias"], errors="ignore")
    summary = pd.DataFrame({"mean_abs": values.abs().mean(), "mean": values.mean()})
    return summary.sort_values("mean_abs", ascending=False).rename_axis("feature").reset_index()


def contributions_figure(contributions: pd.DataFrame, top: int = 20) -> Figure:
    """SHAP-style summary from LightGBM's ``pred_contrib``: mean |contribution| to the log-odds per feature."""
    summary = contributions_summary(contributions).head(top).iloc[::-1]
    figure = Figure(figsize=(6, 0.3 * len(summary) + 1.2))
    axes = figure.add_subplot()
    axes.barh(summary["feature"], summary["mean_abs"])
    axes.set(xlabel="mean |contribution| to the log-odds", title="Feature contributions (test split)")
    figure.tight_layout()
    return figure
