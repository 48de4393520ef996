"""Audience segments ranked by the champion model's predicted conversion rate and value per session.

Input: one row per session with the segment columns (``features.audience_segments.audience_frame`` derives them
from session records), ``probability`` (the champion's calibrated conversion probability), ``converted`` and
``conversion_value`` (what was observed), and optionally ``visitor_id`` (only counted).

Per segment of each dimension in ``dimensions`` (single columns and pairs such as device × channel), named in
words (``dimension_label``, ``segment_label``) beside the machine values (``dimension``, ``segment``):

* **size** — sessions and their share of all sessions;
* **predicted conversion rate** — the mean probability of its sessions, and its **lift**, the ratio to the
  mean probability of all sessions;
* **predicted value per session** — predicted rate × the segment's mean order value, shrunk toward the
  overall mean order value: ``(value of its conversions + m · overall AOV) / (its conversions + m)`` with
  ``m = value_prior_conversions`` (5): a segment with few orders gets about the average order value;
* **observed rate** — its conversions / sessions with a Wilson score interval (``confidence``, 95 %);
* **suggestion** — ``bid up`` when the predicted lift is at least ``bid_up_lift`` (1.2), ``exclude`` when it
  is at most ``exclude_lift`` (0.8), else ``keep``; a segment with fewer than ``min_sessions`` (100) sessions,
  or whose observed interval lies entirely on the other side of the overall observed rate (the data
  contradict the model), is ``keep`` with the reason. A segment no ad platform can target or exclude
  (``targetable`` false: new vs returning visitors, direct or referral traffic, unknown values; see
  ``features.audience_segments``) is ``insight only``: shown for context, never a bid.

Privacy (promise P11): only aggregates leave this module, never a visitor; a segment with fewer than ``k``
sessions (default 10, ``features.kanonymity.DEFAULT_K``) — or fewer than ``k`` distinct visitors when
``visitor_id`` is given — is hidden and only counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from core.errors import InvalidInput, NotReady
from features.audience_segments import (
    AUDIENCE_COLUMNS,
    SEPARATOR,
    UNKNOWN,
    dimension_label,
    lever,
    segment_label,
    targetable,
)
from features.kanonymity import DEFAULT_K, check_k
from models.intervals import wilson_interval

DEFAULT_DIMENSIONS: tuple[tuple[str, ...], ...] = (
    *((c,) for c in AUDIENCE_COLUMNS),
    ("device_class", "channel"),
    ("region", "device_class"),
)
INSIGHT_ONLY = "insight only"
SUGGESTIONS = ("bid up", "keep", "exclude", INSIGHT_ONLY)
RANKINGS = ("rate", "value")


SEGMENT_COLUMNS = (
    "dimension",
    "dimension_label",
    "segment",
    "segment_label",
    "targetable",
    "sessions",
    "share",
    "predicted_rate",
    "predicted_lift",
    "predicted_value_per_session",
    "average_order_value",
    "conversions",
    "observed_rate",
    "observed_rate_low",
    "observed_rate_high",
    "suggestion",
    "reason",
)
"""The columns of a scored segment, in the order tables and CSV files show them."""


def _text(values: pd.Series) -> pd.Series:
    text = values.astype(object).where(values.notna(), None)
    return text.map(lambda v: UNKNOWN if v is None or str(v).strip() == "" else str(v)).astype(object)


class AudienceRanker(BaseEstimator):
    """Segments of scored sessions with predicted rate, value, size, observed rate and a suggestion.

    See the module docstring for the columns ``fit`` needs and the rules. After ``fit``: ``segments_`` (one
    row per visible segment, best predicted rate first), ``overall_`` (the same figures over all sessions)
    and ``hidden_segments_`` (how many segments the ``k`` floor hid).
    """

    def __init__(
        self,
        dimensions: Sequence[Sequence[str]] = DEFAULT_DIMENSIONS,
        k: int = DEFAULT_K,
        min_sessions: int = 100,
        bid_up_lift: float = 1.2,
        exclude_lift: float = 0.8,
        confidence: float = 0.95,
        value_prior_conversions: float = 5.0,
    ) -> None:
        self.dimensions = dimensions
        self.k = k
        self.min_sessions = min_sessions
        self.bid_up_lift = bid_up_lift
        self.exclude_lift = exclude_lift
        self.confidence = confidence
        self.value_prior_conversions = value_prior_conversions

    def _check_params(self) -> list[tuple[str, ...]]:
        check_k(self.k)
        if not self.dimensions:
            raise InvalidInput("at least one segment dimension is needed")
        if not 0 < self.exclude_lift < 1 < self.bid_up_lift:
            raise InvalidInput("need 0 < exclude_lift < 1 < bid_up_lift")
        if not 0 < self.confidence < 1:
            raise InvalidInput(f"confidence must be between 0 and 1, got {self.confidence}")
        if self.min_sessions < 0 or self.value_prior_conversions < 0:
            raise InvalidInput("min_sessions and value_prior_conversions must not be negative")
        return [tuple(d) for d in self.dimensions]

    def fit(self, X: pd.DataFrame, y: Any = None) -> AudienceRanker:
        """Aggregate scored sessions ``X`` into segments (``y`` is ignored: outcomes are columns of ``X``)."""
        dimensions = self._check_params()
        needed = {"probability", "converted", *(c for d in dimensions for c in d)}
        missing = sorted(needed - set(X.columns))
        if missing:
            raise InvalidInput(f"scored sessions lack the column(s) {', '.join(missing)}")
        if len(X) == 0:
            raise NotReady("no sessions to rank audiences on")
        probability = pd.to_numeric(X["probability"], errors="coerce").to_numpy(dtype=np.float64)
        if not np.isfinite(probability).all() or (probability < 0).any() or (probability > 1).any():
            raise InvalidInput("probability must be a number between 0 and 1 for every session")
        converted = X["converted"].fillna(False).astype(bool).to_numpy()
        values = X["conversion_value"] if "conversion_value" in X else pd.Series(0.0, index=X.index)
        value = np.where(converted, pd.to_numeric(values, errors="coerce").fillna(0.0).to_numpy(dtype=np.float64), 0)
        frame = pd.DataFrame({"_p": probability, "_c": converted.astype(np.int64), "_v": value}, index=X.index)
        has_visitors = "visitor_id" in X.columns
        if has_visitors:
            frame["_visitor"] = X["visitor_id"].to_numpy()

        sessions = len(frame)
        conversions = int(frame["_c"].sum())
        total_value = float(frame["_v"].sum())
        aov = total_value / conversions if conversions else 0.0
        rate = float(probability.mean())
        observed = conversions / sessions
        low, high = wilson_interval(conversions, sessions, self.confidence)
        self.overall_ = {
            "sessions": sessions,
            "predicted_rate": rate,
            "predicted_value_per_session": rate * aov,
            "average_order_value": aov,
            "conversions": conversions,
            "observed_rate": observed,
            "observed_rate_low": float(low),
            "observed_rate_high": float(high),
        }

        parts = []
        hidden = 0
        for dimension in dimensions:
            keys = _segment_keys(X, dimension)
            grouped = frame.assign(**keys).groupby(list(keys), sort=True)
            table = grouped.agg(
                sessions=("_p", "size"), predicted=("_p", "mean"), conv=("_c", "sum"), val=("_v", "sum")
            )
            table["visitors"] = grouped["_visitor"].nunique() if has_visitors else table["sessions"]
            visible = (table["sessions"] >= self.k) & (table["visitors"] >= self.k)
            hidden += int((~visible).sum())
            table = table[visible].reset_index()
            keyed: list[tuple[str, ...]] = [tuple(map(str, row)) for row in table[list(keys)].itertuples(index=False)]
            parts.append(
                pd.DataFrame(
                    {
                        "dimension": SEPARATOR.join(dimension),
                        "dimension_label": dimension_label(dimension),
                        "segment": pd.Series([SEPARATOR.join(v) for v in keyed], dtype=object),
                        "segment_label": pd.Series([segment_label(dimension, v) for v in keyed], dtype=object),
                        "targetable": pd.Series([targetable(dimension, v) for v in keyed], dtype=bool),
                        "lever": lever(dimension),
                        "sessions": table["sessions"].to_numpy(dtype=np.int64),
                        "predicted_rate": table["predicted"].to_numpy(dtype=np.float64),
                        "conversions": table["conv"].to_numpy(dtype=np.int64),
                        "value": table["val"].to_numpy(dtype=np.float64),
                    }
                )
            )
        segments = pd.concat(parts, ignore_index=True)
        self.hidden_segments_ = hidden
        self.segments_ = self._describe(segments, rate, observed, aov)
        return self

    def _describe(self, segments: pd.DataFrame, rate: float, observed: float, aov: float) -> pd.DataFrame:
        """Add shares, lifts, values, intervals and suggestions; sort by predicted rate."""
        n = segments["sessions"].to_numpy(dtype=np.float64)
        conversions = segments["conversions"].to_numpy(dtype=np.float64)
        m = float(self.value_prior_conversions)
        segment_aov = np.where(
            conversions + m > 0, (segments["value"].to_numpy() + m * aov) / np.maximum(conversions + m, 1e-12), aov
        )
        low, high = wilson_interval(conversions, n, self.confidence)
        lift = segments["predicted_rate"].to_numpy() / rate if rate > 0 else np.ones(len(segments))
        out = segments.drop(columns=["value", "lever"]).assign(
            share=n / float(self.overall_["sessions"]),
            predicted_lift=lift,
            predicted_value_per_session=segments["predicted_rate"].to_numpy() * segment_aov,
            average_order_value=segment_aov,
            observed_rate=conversions / np.maximum(n, 1),
            observed_rate_low=low,
            observed_rate_high=high,
        )
        suggestions, reasons = [], []
        rows = zip(n, lift, low, high, segments["targetable"], segments["lever"], strict=True)
        for size, up, lo, hi, can_target, how in rows:
            if can_target:
                suggestion, reason = self._suggest(int(size), float(up), float(lo), float(hi), observed)
                if suggestion != "keep":
                    reason = f"{reason}: act through {how}"
            else:
                suggestion = INSIGHT_ONLY
                reason = f"not targetable: for insight only (predicted conversion rate {up:.2f}× the average)"
            suggestions.append(suggestion)
            reasons.append(reason)
        out["suggestion"] = suggestions
        out["reason"] = reasons
        ordered = out[list(SEGMENT_COLUMNS)].sort_values(
            ["predicted_rate", "sessions", "dimension", "segment"], ascending=[False, False, True, True]
        )
        return ordered.reset_index(drop=True)

    def _suggest(self, sessions: int, lift: float, low: float, high: float, observed: float) -> tuple[str, str]:
        if lift >= self.bid_up_lift:
            if sessions < self.min_sessions:
                return "keep", f"predicted {lift:.2f}× the average rate, but under {self.min_sessions:,} sessions"
            if high < observed:
                return "keep", f"predicted {lift:.2f}× the average rate, but its observed rate is below average"
            return "bid up", f"predicted conversion rate {lift:.2f}× the average"
        if lift <= self.exclude_lift:
            if sessions < self.min_sessions:
                return "keep", f"predicted {lift:.2f}× the average rate, but under {self.min_sessions:,} sessions"
            if low > observed:
                return "keep", f"predicted {lift:.2f}× the average rate, but its observed rate is above average"
            return "exclude", f"predicted conversion rate {lift:.2f}× the average"
        return "keep", f"predicted conversion rate {lift:.2f}× the average: close to it"

    def ranking(self, by: str = "rate", top: int | None = None) -> pd.DataFrame:
        """Visible segments, best first by predicted ``rate`` or predicted ``value`` per session."""
        check_is_fitted(self, "segments_")
        if by not in RANKINGS:
            raise InvalidInput(f"rank by one of {', '.join(RANKINGS)}, not {by!r}")
        key = "predicted_rate" if by == "rate" else "predicted_value_per_session"
        ranked = self.segments_.sort_values(
            [key, "sessions", "dimension", "segment"], ascending=[False, False, True, True]
        ).reset_index(drop=True)
        return ranked if top is None else ranked.head(top).reset_index(drop=True)

    def candidates(self, suggestion: str, top: int | None = None) -> pd.DataFrame:
        """Segments with ``suggestion`` (``bid up``: highest predicted rate first; ``exclude``: lowest first)."""
        check_is_fitted(self, "segments_")
        if suggestion not in SUGGESTIONS:
            raise InvalidInput(f"suggestion is one of {', '.join(SUGGESTIONS)}, not {suggestion!r}")
        chosen = self.segments_[self.segments_["suggestion"] == suggestion]
        if suggestion == "exclude":
            chosen = chosen.sort_values(
                ["predicted_rate", "sessions", "dimension", "segment"], ascending=[True, False, True, True]
            )
        chosen = chosen.reset_index(drop=True)
        return chosen if top is None else chosen.head(top).reset_index(drop=True)


def _segment_keys(X: pd.DataFrame, dimension: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The values of each column of ``dimension`` as text (missing as ``(unknown)``), keyed ``_d0``, ``_d1``…"""
    return {f"_d{i}": _text(X[column]).to_numpy(dtype=object) for i, column in enumerate(dimension)}
