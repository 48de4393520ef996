"""Response-curve plots: one panel per curve, the plan marked, PNG output, no pyplot state."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from models.budget import allocate_budget
from models.curve_plots import figure_png, response_curves_figure, save_figure
from models.response import hill


class Curve:
    def __init__(self, beta: float, half: float) -> None:
        self.beta, self.half = beta, half
        self.factors = np.random.default_rng(0).lognormal(0, 0.1, 50)

    def steady_state(self, daily_spend: float | np.ndarray) -> np.ndarray:
        return self.beta * hill(daily_spend, self.half, 1.0)

    def steady_state_draws(self, daily_spend: float) -> np.ndarray:
        return self.factors * float(self.steady_state(daily_spend))


def test_figure_has_a_panel_per_curve_with_the_plan_marked(tmp_path: Path) -> None:
    pyplot_before = "matplotlib.pyplot" in sys.modules
    curves = {"search": Curve(100, 300), "display": Curve(40, 50), "social": Curve(70, 200), "email": Curve(20, 30)}
    current = {name: 100.0 for name in curves}
    plan = allocate_budget(curves, current, 400.0)
    figure = response_curves_figure(curves, plan, unit=7, unit_label="week")
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert sorted(axes.get_title().split(" (")[0] for axes in panels) == sorted(curves)
    held = {a.campaign_id: a.at_bound for a in plan.allocations if a.at_bound}
    assert held, "this plan holds a campaign at a bound"
    for axes in panels:
        name = axes.get_title().split(" (")[0]
        assert axes.get_title() == (f"{name} (at {held[name]} bound)" if name in held else name)
    legend = figure.axes[0].get_legend()
    assert "today's split" in [t.get_text() for t in legend.get_texts()], "at today's total: simply today's split"
    scaled = response_curves_figure(curves, allocate_budget(curves, current, 600.0))
    assert "today's split at this total" in [t.get_text() for t in scaled.axes[0].get_legend().get_texts()]
    search = next(axes for axes in panels if axes.get_title().startswith("search"))
    recommended = next(a for a in plan.allocations if a.campaign_id == "search").recommended_spend
    xdata = [np.asarray(line.get_xdata(), dtype=float) for line in search.get_lines()]
    vertical = [float(x[0]) for x in xdata if len(x) and np.all(x == x[0])]
    assert any(x == pytest.approx(recommended * 7) for x in vertical), "the recommended weekly spend is marked"
    assert search.get_xlabel() == "spend per week"
    png = figure_png(figure)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 5_000
    path = save_figure(figure, tmp_path / "curves.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert ("matplotlib.pyplot" in sys.modules) == pyplot_before, "no pyplot import"


def test_figure_without_a_plan_and_without_curves() -> None:
    figure = response_curves_figure({"a": Curve(10, 10)})
    assert [axes.get_title() for axes in figure.axes] == ["a"]
    with pytest.raises(ValueError, match="no response curves"):
        response_curves_figure({})
