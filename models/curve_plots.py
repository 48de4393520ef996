"""Response-curve plots: each campaign's expected outcome against spend, with its interval and the plan marked.

Matplotlib's object API (``Figure`` with an Agg canvas) draws off screen without pyplot, so no global state
leaks into the caller (a server thread, a notebook, the CLI).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from models.budget import BudgetPlan, baseline_label
from models.response import SpendResponse

POINTS = 60


def response_curves_figure(
    curves: Mapping[str, SpendResponse],
    plan: BudgetPlan | None = None,
    *,
    unit: float = 1.0,
    unit_label: str = "day",
    outcome: str = "conversions",
    level: float = 0.9,
    columns: int = 3,
) -> Figure:
    """One panel per curve: expected outcome per ``unit_label`` against spend per ``unit_label``.

    The band is the central ``level`` interval of the curve's draws. With a ``plan``, its one baseline (today's
    split at the plan's total, :func:`models.budget.baseline_label`) and the recommended spend are marked, the
    bounds shaded, and a campaign held by a bound says so in its title.
    """
    if not curves:
        raise ValueError("no response curves to plot")
    allocations = {a.campaign_id: a for a in plan.allocations} if plan else {}
    names = sorted(curves)
    rows = math.ceil(len(names) / columns)
    width = min(columns, len(names))
    figure = Figure(figsize=(4.2 * width, 3.2 * rows), layout="constrained")
    FigureCanvasAgg(figure)
    tail = (1.0 - level) / 2.0
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, width, index + 1)
        curve = curves[name]
        a = allocations.get(name)
        reference = max(a.upper_bound, a.recommended_spend, a.baseline_spend) if a else _scale_hint(curve)
        spend = np.linspace(0.0, 1.3 * max(reference, 1e-9), POINTS)
        mean = np.asarray(curve.steady_state(spend), dtype=float) * unit
        draws = np.vstack([np.atleast_1d(curve.steady_state_draws(float(x))) for x in spend]) * unit
        low, high = np.quantile(draws, [tail, 1.0 - tail], axis=1)
        x = spend * unit
        axes.fill_between(x, low, high, alpha=0.25, color="tab:blue", label=f"{level:.0%} interval")
        axes.plot(x, mean, color="tab:blue", label="expected")
        if a is not None:
            axes.axvspan(a.lower_bound * unit, a.upper_bound * unit, color="grey", alpha=0.08, label="bounds")
            for value, color, text in (
                (a.baseline_spend, "tab:grey", baseline_label(plan) if plan else "today's split"),
                (a.recommended_spend, "tab:green", "recommended"),
            ):
                y = float(np.asarray(curve.steady_state(value))) * unit
                axes.axvline(value * unit, color=color, linestyle="--", linewidth=1)
                axes.plot([value * unit], [y], "o", color=color, label=text)
        held = f" (at {a.at_bound} bound)" if a is not None and a.at_bound else ""
        axes.set_title(name + held, fontsize=10)
        axes.set_xlabel(f"spend per {unit_label}")
        axes.set_ylabel(f"{outcome} per {unit_label}")
        axes.set_xlim(left=0)
        axes.set_ylim(bottom=0)
        if index == 0:
            axes.legend(fontsize=7, loc="lower right")
    return figure


def _scale_hint(curve: SpendResponse) -> float:
    """A spend range for a curve without a plan: twice its mean spend when it knows one."""
    mean = getattr(curve, "mean_spend_", None) or getattr(getattr(curve, "curve", None), "mean_spend_", None)
    return 2.0 * float(mean) if mean else 1.0


def figure_png(figure: Figure, dpi: int = 100) -> bytes:
    """The figure as PNG bytes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def save_figure(figure: Figure, path: str | Path, dpi: int = 100) -> Path:
    """Write the figure (format from the suffix, e.g. ``.png``) and return the path."""
    target = Path(path)
    figure.savefig(target, dpi=dpi)
    return target
