"""Plots logged with each media-mix run: fit against actuals (held-out tail shaded), decomposition, response curves.

Matplotlib's object API (``Figure``), no pyplot: drawing changes no global state (see :mod:`training.plots`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.dates import date2num
from matplotlib.figure import Figure


def fit_figure(predictions: pd.DataFrame, kpi: str) -> Figure:
    """Actual KPI and the model's predictions per period, the interval as a band, the held-out periods shaded."""
    figure = Figure(figsize=(10, 4.5))
    axes = figure.add_subplot()
    dates = pd.DatetimeIndex(predictions["date"])
    axes.plot(dates, predictions["actual"], color="black", linewidth=1.2, label="actual")
    axes.plot(dates, predictions["predicted"], color="tab:blue", linewidth=1.2, label="predicted")
    if predictions["lower"].notna().any():
        axes.fill_between(
            dates,
            predictions["lower"].astype(float),
            predictions["upper"].astype(float),
            color="tab:blue",
            alpha=0.2,
            label="prediction interval",
        )
    held = dates[(predictions["split"] == "holdout").to_numpy()]
    if len(held):
        axes.axvspan(
            float(date2num(held.min())), float(date2num(held.max())), color="orange", alpha=0.15, label="held out"
        )
    axes.set(xlabel="period", ylabel=kpi, title=f"{kpi}: fit against actuals")
    axes.legend(loc="upper left", fontsize="small")
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def decomposition_figure(decomposition: pd.DataFrame, channels: list[str], kpi: str) -> Figure:
    """Stacked areas: baseline plus controls (together) and each channel's effect per period."""
    figure = Figure(figsize=(10, 4.5))
    axes = figure.add_subplot()
    dates = pd.DatetimeIndex(decomposition["date"])
    parts = [c for c in decomposition.columns if c not in ("date", "predicted", *channels)]
    base = decomposition[parts].sum(axis=1).to_numpy(dtype=float)
    layers = [base, *(decomposition[c].to_numpy(dtype=float) for c in channels)]
    axes.stackplot(dates, *layers, labels=["baseline and controls", *channels], alpha=0.8)
    axes.plot(dates, decomposition["predicted"], color="black", linewidth=0.8, label="predicted")
    axes.set(xlabel="period", ylabel=kpi, title=f"{kpi}: decomposition")
    axes.legend(loc="lower left", fontsize="small", ncol=3)
    figure.autofmt_xdate()
    figure.tight_layout()
    return figure


def curves_figure(curves: dict[str, Any]) -> Figure:
    """One panel per channel: settled effect per period against spend per period, interval band, observed points."""
    channels = curves["channels"]
    n = max(len(channels), 1)
    cols = min(n, 3)
    rows = int(np.ceil(n / cols))
    figure = Figure(figsize=(4 * cols, 3.2 * rows))
    unit = curves["unit"]
    for i, (name, curve) in enumerate(channels.items()):
        axes = figure.add_subplot(rows, cols, i + 1)
        spend = np.asarray(curve["spend"], dtype=float)
        axes.plot(spend, curve["effect"], color="tab:blue")
        if curve["lower"] and curve["lower"][0] is not None:
            axes.fill_between(spend, curve["lower"], curve["upper"], color="tab:blue", alpha=0.2)
        axes.scatter(curve["observed"]["spend"], curve["observed"]["effect"], s=6, color="grey", alpha=0.6)
        axes.axvline(curve["current_spend"], color="orange", linestyle=":", linewidth=1)
        axes.set(title=name, xlabel=f"spend per {unit}", ylabel=f"effect per {unit}")
    figure.tight_layout()
    return figure
