"""Daily sessions and conversions over a report's period, for the dashboard's trend chart (aggregates only)."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from core.errors import NotReady
from models import intervals
from strategy.sessions import days_between, period_text


def daily_trend(
    sessions: pd.DataFrame, since: date | None = None, until: date | None = None, confidence: float = 0.95
) -> dict[str, Any]:
    """Sessions, conversions, value and conversion rate (Wilson interval) per UTC day within ``since``..``until``,
    from the first to the last day with sessions (days without any in between included, as zeros).

    Days follow the effectiveness report (UTC dates, inclusive bounds), so they add up to that report's totals.
    """
    days, keep = days_between(sessions, since, until)
    if not keep.any():
        raise NotReady(f"no sessions from {period_text(since, until)}")
    # Only the days from the first to the last with sessions: a wide window never yields years of zeros
    start, end = days[keep].min(), days[keep].max()
    converted = sessions.loc[keep, "converted"].fillna(False).astype(bool)
    value = pd.to_numeric(sessions.loc[keep, "conversion_value"], errors="coerce").fillna(0.0).where(converted, 0.0)
    frame = pd.DataFrame({"day": days[keep], "converted": converted.astype(np.int64), "value": value})
    grouped = frame.groupby("day").agg(
        sessions=("converted", "size"), conversions=("converted", "sum"), value=("value", "sum")
    )
    grouped = grouped.reindex(pd.date_range(start, end, freq="D").date, fill_value=0)
    n = grouped["sessions"].to_numpy(float)
    x = grouped["conversions"].to_numpy(float)
    low, high = intervals.wilson_interval(x, n, confidence)
    rows = [
        {
            "date": day.isoformat(),
            "sessions": int(s),
            "conversions": int(c),
            "value": round(float(v), 2),
            "conversion_rate": float(c / s) if s else None,
            "conversion_rate_interval": [float(lo), float(hi)] if s else [None, None],
        }
        for day, s, c, v, lo, hi in zip(
            grouped.index, grouped["sessions"], grouped["conversions"], grouped["value"], low, high, strict=True
        )
    ]
    return {"since": start.isoformat(), "until": end.isoformat(), "confidence": confidence, "days": rows}
