"""Tables of a fitted media-mix model over a client's periods: predictions, decomposition and response curves.

Pure functions of a fitted :class:`models.mediamix.MediaMixModel` and the frame it predicts (``X``: date, spend
per channel, controls), shared by the training job (its MLflow artifacts) and ``strategy.mmm_report`` (what the
CLI, API and dashboard show), so both say the same thing.

- **Predictions**: each period's actual KPI, the model's prediction and its interval. Periods of the held-out
  tail carry what the fit on the periods *before* the tail predicted (``split="holdout"``), the others what the
  full fit gives (``"fit"``); periods after the fit's last one (data imported since) are ``"after"``.
- **Decomposition**: per period the baseline (intercept, trend, seasonality), each control's contribution
  (its coefficient times its value: what it adds against the control at zero, as Robyn counts it) and each
  channel's effect; totals per part with intervals from
  the bootstrap draws (every draw refits all parameters, so a total's interval keeps their correlation).
- **Curves**: per channel the settled effect of a spend per period on a grid, with its interval, and the
  observed periods (spend, the effect the model gives that period).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.mediamix import MediaMixModel, _channel_effects

SPLIT_FIT, SPLIT_HOLDOUT, SPLIT_AFTER = "fit", "holdout", "after"


def _level(model: MediaMixModel) -> float:
    return float(model.interval_level)


def _interval(values: np.ndarray, level: float) -> list[float] | None:
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return None
    tail = (1.0 - level) / 2.0
    return [float(np.quantile(finite, tail)), float(np.quantile(finite, 1.0 - tail))]


def predictions_frame(model: MediaMixModel, X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
    """``date, actual, predicted, lower, upper, split`` for the consecutive periods of ``X`` (``y``: the KPI)."""
    dates = pd.DatetimeIndex(pd.to_datetime(X[model.date_column]))
    if hasattr(model, "predict_interval"):
        frame = model.predict_interval(X).reset_index(drop=True)
    else:  # a model without per-period intervals
        frame = pd.DataFrame({"date": dates, "predicted": model.predict(X), "lower": np.nan, "upper": np.nan})
    frame.insert(1, "actual", np.asarray(y, dtype=float))
    last_fitted = pd.Timestamp(model.fit_report_["last_day"])
    frame["split"] = np.where(frame["date"] > last_fitted, SPLIT_AFTER, SPLIT_FIT)
    holdout = getattr(model, "holdout_", None)
    if holdout is not None and len(holdout):
        held = holdout.set_index(pd.DatetimeIndex(holdout["date"]))
        rows = frame["date"].isin(held.index) & (frame["split"] == SPLIT_FIT)
        picked = held.loc[frame.loc[rows, "date"]]
        for column in ("predicted", "lower", "upper"):
            frame.loc[rows, column] = picked[column].to_numpy()
        frame.loc[rows, "split"] = SPLIT_HOLDOUT
    frame["date"] = pd.DatetimeIndex(frame["date"])
    return frame[["date", "actual", "predicted", "lower", "upper", "split"]]


def _draw_channel_effects(model: MediaMixModel, spend: np.ndarray) -> np.ndarray | None:
    """Each channel's effect per period under each bootstrap draw, ``(draws, n, C)`` (KPI units); ``None``
    without draws."""
    draws = getattr(model, "theta_draws_", None)
    families = getattr(model, "families_", None)
    if draws is None or families is None or len(draws) == 0:
        return None
    out = np.empty((len(draws), spend.shape[0], spend.shape[1]))
    for i in range(len(draws)):
        out[i] = _channel_effects(families, draws.theta[i], draws.beta[i], spend)
    return out


def _base_parts(model: MediaMixModel, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The base design matrix of ``X``, the controls' column positions in it, and each control's value over its
    scale (the matrix holds them centred on the fit's mean; a contribution is counted from a control at zero)."""
    dates = pd.DatetimeIndex(pd.to_datetime(X[model.date_column]))
    controls = X[list(model.controls_)].to_numpy(dtype=float) if model.controls_ else np.zeros((len(X), 0))
    matrix = model.design_.matrix(dates, controls)
    names = list(model.base_columns_)
    positions = np.array([names.index(c) for c in model.controls_], dtype=int)
    if not len(positions):
        return matrix, positions, np.zeros((len(X), 0))
    design = model.design_
    scaled = matrix[:, positions] + np.asarray(design.control_mean) / np.asarray(design.control_scale)
    return matrix, positions, scaled


def decomposition_frames(
    model: MediaMixModel, X: pd.DataFrame, rows: np.ndarray | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Per period (``rows``: a boolean mask of ``X``'s periods to keep, all when ``None``): ``date, baseline``,
    one column per control, one per channel, ``predicted``; and the totals of each part over those periods
    with intervals (``{"kpi_units": ..., "parts": [{name, kind, total, share, interval}], ...}``).

    The baseline here is intercept, trend and seasonality; controls are reported apart (each against the control
    at zero; a control with a negative coefficient contributes negatively).
    """
    decomposed = model.decompose(X).reset_index(drop=True)
    matrix, positions, scaled = _base_parts(model, X)
    coef = np.asarray(model.base_coef_, dtype=float)
    control_parts = scaled * coef[positions]
    frame = decomposed[["date"]].copy()
    frame["baseline"] = decomposed["baseline"].to_numpy() - control_parts.sum(axis=1)
    for k, name in enumerate(model.controls_):
        frame[name] = control_parts[:, k]
    for name in model.channels_:
        frame[name] = decomposed[name].to_numpy()
    frame["predicted"] = decomposed["predicted"].to_numpy()
    keep = np.ones(len(frame), dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
    level = _level(model)
    spend = X[list(model.channels_)].to_numpy(dtype=float)
    channel_draws = _draw_channel_effects(model, spend)
    base_draws = getattr(model, "base_draws_", None)
    parts: list[dict[str, Any]] = []
    predicted_total = float(frame.loc[keep, "predicted"].sum())

    def add(name: str, kind: str, total: float, draws: np.ndarray | None) -> None:
        parts.append(
            {
                "name": name,
                "kind": kind,
                "total": total,
                "share": total / predicted_total if predicted_total else None,
                "interval": None if draws is None else _interval(draws, level),
            }
        )

    has_base_draws = base_draws is not None and len(base_draws) > 0
    if has_base_draws:
        assert base_draws is not None
        draw_base = base_draws @ matrix[keep].T  # (draws, periods)
        control_draws = base_draws[:, positions][:, None, :] * scaled[keep][None, :, :]
        baseline_draws = draw_base.sum(axis=1) - control_draws.sum(axis=(1, 2))
    add("baseline", "baseline", float(frame.loc[keep, "baseline"].sum()), baseline_draws if has_base_draws else None)
    for k, name in enumerate(model.controls_):
        draws = control_draws[:, :, k].sum(axis=1) if has_base_draws else None
        add(name, "control", float(frame.loc[keep, name].sum()), draws)
    for j, name in enumerate(model.channels_):
        draws = None if channel_draws is None else channel_draws[:, keep, j].sum(axis=1)
        add(name, "channel", float(frame.loc[keep, name].sum()), draws)
    media = [p for p in parts if p["kind"] == "channel"]
    totals = {
        "n_periods": int(keep.sum()),
        "first_day": str(frame.loc[keep, "date"].min().date()) if keep.any() else None,
        "last_day": str(frame.loc[keep, "date"].max().date()) if keep.any() else None,
        "predicted": predicted_total,
        "media_effect": float(sum(p["total"] for p in media)),
        "interval_level": level,
        "parts": parts,
    }
    return frame.loc[keep].reset_index(drop=True), totals


def current_spend_per_period(model: MediaMixModel, X: pd.DataFrame, recent_days: int = 28) -> dict[str, float]:
    """Each channel's mean spend per period over the last ``recent_days`` of ``X`` (four weeks by default)."""
    period_days = int(model.fit_report_.get("period_days", 1))
    recent = X.tail(max(recent_days // period_days, 1))
    return {name: float(recent[name].mean()) for name in model.channels_}


def curves_dict(model: MediaMixModel, X: pd.DataFrame, points: int = 40) -> dict[str, Any]:
    """Per channel: a grid of spend per period (0 to 1.5× the largest observed), the settled effect per period
    with its interval, the observed periods (date, spend, the effect the model gives that period) and today's
    spend per period (mean of the last four weeks)."""
    period_days = int(model.fit_report_.get("period_days", 1))
    level = _level(model)
    decomposed = model.decompose(X)
    current = current_spend_per_period(model, X)
    channels: dict[str, Any] = {}
    for name, curve in model.response_curves().items():
        observed = X[name].to_numpy(dtype=float)
        top = float(observed.max()) * 1.5 if observed.max() > 0 else 1.0
        grid = np.linspace(0.0, top, max(int(points), 2))
        daily = grid / period_days
        effect = np.asarray(curve.steady_state(daily), dtype=float) * period_days
        lower: list[float | None] = []
        upper: list[float | None] = []
        for spend in daily:
            if len(curve.draws):
                low, high = curve.steady_state_interval(float(spend), level)
                lower.append(low * period_days)
                upper.append(high * period_days)
            else:
                lower.append(None)
                upper.append(None)
        channels[name] = {
            "spend": grid.tolist(),
            "effect": effect.tolist(),
            "lower": lower,
            "upper": upper,
            "observed": {
                "date": [str(d.date()) for d in pd.DatetimeIndex(decomposed["date"])],
                "spend": observed.tolist(),
                "effect": decomposed[name].astype(float).tolist(),
            },
            "current_spend": current[name],
            "current_effect": float(curve.steady_state(current[name] / period_days)) * period_days,
        }
    unit = "week" if period_days == 7 else "day"
    return {"period_days": period_days, "unit": unit, "interval_level": level, "channels": channels}


def cv_means(report: dict[str, Any]) -> dict[str, Any] | None:
    """Mean MAPE, NRMSE, R² and coverage over the cross-validation folds of the chosen families (``None``
    without cross-validation)."""
    cv = report.get("cross_validation")
    if not isinstance(cv, dict):
        return None
    if isinstance(cv.get("mean"), dict):
        return dict(cv["mean"])
    rows = cv.get("table") or []
    chosen = [r for r in rows if r.get("chosen")] or [
        r for r in rows if (r.get("adstock"), r.get("saturation")) == (cv.get("adstock"), cv.get("saturation"))
    ]
    if not chosen:
        return None
    return {k: chosen[0].get(k) for k in ("mape", "nrmse", "r2", "coverage")}
