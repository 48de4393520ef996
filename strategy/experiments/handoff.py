"""A finished experiment becomes a lift-test row that calibrates the media-mix model (``tracking.lift``).

The row measures what the test's spend change bought over its days: ``incremental_kpi`` and its standard error
from the analysis of the experiment's KPI, ``spend`` as it ran (from the stored spend table), ``spend_change`` the
part of it the test changed (planned at start: positive for a raise, negative for a pause; for a holdout the
spend that reached the treated visitors, i.e. all of it, since the holdout got none). No row is made, and the
reason is kept on the experiment, when the KPI is not a stored KPI column, no spend change is known, or no spend
is stored for the channel in the window; a row ``tracking.lift.import_lift`` refuses (outside the stored
series, overlapping another lift test) is not made either, with its message as the reason.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from core.errors import InvalidInput
from core.layout import StorageLayout
from strategy.experiments.results import Analysis
from tracking.experiments import Experiment


def _change(experiment: Experiment, analysis: Analysis, spend_as_run: float | None) -> float | None:
    """The spend change the test measured: planned (the analysis carries it), or for a holdout the spend as run."""
    if analysis.spend_change is not None and np.isfinite(analysis.spend_change) and analysis.spend_change != 0:
        return float(analysis.spend_change)
    if experiment.type == "holdout" and spend_as_run is not None and spend_as_run > 0:
        return float(spend_as_run)
    return None


def _row_or_reason(
    experiment: Experiment, analysis: Analysis, spend_as_run: float | None
) -> tuple[dict[str, Any] | None, str | None]:
    metric = analysis.metrics.get(experiment.kpi)
    if metric is None:
        return None, f"the analysis has no estimate of {experiment.kpi}"
    if not (np.isfinite(metric.incremental) and np.isfinite(metric.standard_error) and metric.standard_error > 0):
        return None, f"the estimate of {experiment.kpi} has no finite incremental value and standard error"
    if spend_as_run is None or spend_as_run <= 0:
        return None, (
            f"no spend is stored for {experiment.campaign_id or experiment.channel} from {experiment.start_date} "
            f"to {analysis.end} (xmo spend import)"
        )
    change = _change(experiment, analysis, spend_as_run)
    if change is None:
        return None, "no spend change is known: give the planned change at start (--spend-change)"
    row = {
        "test_id": experiment.experiment_id,
        "channel": experiment.channel,
        "campaign_id": experiment.campaign_id,
        "start_date": experiment.start_date,
        "end_date": analysis.end,
        "kpi": experiment.kpi,
        "incremental_kpi": float(metric.incremental),
        "standard_error": float(metric.standard_error),
        "spend": float(spend_as_run),
        "spend_change": change,
        "scope": "immediate",
        "method": f"xmo {experiment.type}",
        "note": f"from xmo experiment {experiment.experiment_id} ({experiment.action}"
        + (", interim" if analysis.interim else "")
        + ")",
    }
    return row, None


def lift_row(experiment: Experiment, analysis: Analysis, spend_as_run: float | None) -> dict[str, Any] | None:
    """A row for :func:`tracking.lift.import_lift` (``test_id`` = the experiment id, ``method`` ``xmo <type>``);
    None when the analysis has no estimate of ``experiment.kpi``, no spend change is known or no spend ran."""
    return _row_or_reason(experiment, analysis, spend_as_run)[0]


def spend_in_window(spend: pd.DataFrame, channel: str, campaign_id: str | None, start: date, end: date) -> float | None:
    """The stored spend of ``channel`` (or one campaign of it) over ``start``..``end``; a row of several days counts
    for its days inside (an equal share each). None when no row covers any of those days."""
    rows = spend[(spend["channel"] == channel).fillna(False).astype(bool)]
    if campaign_id is not None:
        rows = rows[rows["campaign_id"] == campaign_id]
    total, covered = 0.0, False
    for day, amount, length in zip(rows["date"], rows["spend"], rows["period_days"], strict=True):
        inside = (min(end, day + timedelta(days=int(length) - 1)) - max(start, day)).days + 1
        if inside > 0:
            covered = True
            total += float(amount) * inside / int(length)
    return total if covered else None


def hand_off(
    layout: StorageLayout, engine: Engine, client_id: str, experiment: Experiment, analysis: Analysis, actor: str
) -> tuple[str | None, str | None]:
    """Store the finished experiment as a lift test; ``(lift test id, None)``, or ``(None, why not)``.

    ``import_lift``'s refusals become the reason: the experiment stops all the same.
    """
    from tracking.kpi import read_kpi
    from tracking.lift import import_lift
    from tracking.spend import read_spend

    if analysis.end < experiment.start_date:
        return None, "the test has no day to read"
    columns = [c for c in read_kpi(layout, client_id).columns if c != "date"]
    if experiment.kpi not in columns:
        stored = ", ".join(columns) or "none"
        return None, (
            f"{experiment.kpi} is not a stored KPI column (stored: {stored}); import it (xmo kpi import) and "
            "import the result as a lift test (xmo lift import)"
        )
    spent = spend_in_window(
        read_spend(layout, client_id), experiment.channel, experiment.campaign_id, experiment.start_date, analysis.end
    )
    row, reason = _row_or_reason(experiment, analysis, spent)
    if row is None:
        return None, reason
    try:
        report = import_lift(layout, engine, client_id, pd.DataFrame([row]), actor=actor)
    except InvalidInput as exc:
        return None, str(exc)
    return report.test_ids[0], None
