"""Adstock and saturation families: weights, curves, derivatives, fits that give a world's family back, and the
choice of a pair by time-slice cross-validation."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from models.mediamix import MediaMixModel, _Problem
from models.mediamix_design import BaseDesign, validate_frame
from models.mediamix_families import ADSTOCKS, SATURATIONS, Families, carry, lag_weights, saturate
from models.mediamix_selection import FamilyChoice, _best, _paired_best, _row, choose_families, fit_with_family_choice
from models.mediamix_simulation import MediaMixWorld, simulate_media_mix
from models.mediamix_validation import FoldScore, TimeSliceReport


def test_lagged_weights_sum_to_one_and_peak_where_they_should() -> None:
    delayed = lag_weights("delayed", np.array([0.5, 2.0]), 13)
    assert delayed.sum() == pytest.approx(1.0) and int(np.argmax(delayed)) == 2
    weibull = lag_weights("weibull", np.array([3.0, 4.0]), 13)
    assert weibull.sum() == pytest.approx(1.0) and 1 <= int(np.argmax(weibull)) <= 3
    spend = np.full(30, 100.0)
    for name, params in (("geometric", [0.6]), ("delayed", [0.5, 2.0]), ("weibull", [2.0, 3.0])):
        assert carry(name, spend, np.array(params), 13) == pytest.approx(spend)  # a constant spend settles at itself
    pulse = np.zeros(30)
    pulse[5] = 70.0
    late = carry("delayed", pulse, np.array([0.5, 2.0]), 13)
    assert int(np.argmax(late)) == 7 and late.sum() == pytest.approx(70.0)


def test_every_saturation_is_half_at_its_half_saturation_point() -> None:
    for name in SATURATIONS:
        values = saturate(name, np.array([0.0, 50.0, 1e9]), 50.0, 2.0)
        assert values == pytest.approx([0.0, 0.5, 1.0], abs=1e-6)
        assert np.all(np.diff(saturate(name, np.linspace(0, 500, 50), 50.0, 2.0)) > 0)
    with pytest.raises(InvalidInput, match="unknown saturation"):
        MediaMixModel(saturation="exponential", period_days=7).fit(pd.DataFrame(), [])


@pytest.mark.parametrize(("adstock", "saturation"), list(itertools.product(ADSTOCKS, SATURATIONS)))
def test_the_jacobian_matches_finite_differences(adstock: str, saturation: str) -> None:
    """Near the optimum of a KPI made by the family itself (Kaufman's Jacobian drops a term in the residual)."""
    world = simulate_media_mix(80, 2, noise=0.0, seed=4, period_days=7)
    data = validate_frame(world.X, world.y, None, world.controls, period_days=7)
    design = BaseDesign.for_fit(data, slice(0, 80), 3)
    base = design.matrix(data.dates, data.controls)
    families = Families(adstock, saturation, 13)
    typical = [float(data.spend[data.spend[:, j] > 0, j].mean()) for j in range(2)]
    bounds = [families.bounds(t, (0.0, 0.9), (0.1, 10.0), (0.5, 3.0)) for t in typical]
    params = np.array([[(lo + 2 * hi) / 3 for lo, hi in b] for b in bounds])  # (C, P)
    kpi = base @ np.linspace(1.0, 0.2, base.shape[1]) + sum(
        (1.5 + j) * families.transform(data.spend[:, j], params[j]) for j in range(2)
    )
    problem = _Problem(data.spend, base, kpi, np.ones(80), families)
    theta = params.T.ravel() * 1.003
    steps = np.eye(len(theta)) * 1e-6
    numeric = np.column_stack([(problem.residual(theta + h) - problem.residual(theta - h)) / 2e-6 for h in steps])
    analytic = problem.jacobian(theta)
    assert np.abs(analytic - numeric).max() < 0.05 * np.abs(numeric).max()


@pytest.fixture(scope="module")
def world() -> MediaMixWorld:
    return simulate_media_mix(130, 3, noise=0.04, seed=8, period_days=7)


def test_other_families_fit_and_report_their_names(world: MediaMixWorld) -> None:
    model = MediaMixModel(
        controls=world.controls, n_draws=3, period_days=7, adstock="delayed", saturation="michaelis_menten"
    ).fit(world.X, world.y)
    report = model.fit_report_
    assert (report["adstock"], report["saturation"]) == ("delayed", "michaelis_menten")
    row = report["decomposition"]["channels"][0]
    assert set(row["adstock_params"]) == {"decay", "peak"} and row["shape"] == 1.0
    curve = model.response_curves()[row["channel"]]
    assert (curve.adstock, curve.saturation) == ("delayed", "michaelis_menten")
    expected = curve.beta * 70.0 / (curve.half_saturation + 70.0) / 7  # a daily spend of 10 is 70 per week
    assert float(curve.steady_state(10.0)) == pytest.approx(expected)
    assert report["in_sample"]["r2"] > 0.8
    assert model.predict_interval(world.X).shape == (130, 4)


@pytest.fixture(scope="module")
def chosen(world: MediaMixWorld) -> tuple[MediaMixModel, FamilyChoice]:
    model = MediaMixModel(controls=world.controls, n_draws=3, period_days=7)
    return fit_with_family_choice(model, world.X, world.y, folds=2)


@pytest.fixture(scope="module")
def choice(chosen: tuple[MediaMixModel, FamilyChoice]) -> FamilyChoice:
    return chosen[1]


def test_families_are_chosen_by_cross_validation_and_reported_side_by_side(choice: FamilyChoice) -> None:
    table = choice.table
    assert len(table) == 5  # three adstocks with Hill, then two more saturations with the adstock chosen
    assert list(table["saturation"].iloc[:3]) == ["hill"] * 3 and list(table["adstock"].iloc[:3]) == list(ADSTOCKS)
    assert set(table["adstock"].iloc[3:]) == {choice.adstock}
    chosen = table[table["chosen"]]
    assert len(chosen) == 1 and (chosen["adstock"].iloc[0], chosen["saturation"].iloc[0]) == (
        choice.adstock,
        choice.saturation,
    )
    for stage in (table.iloc[:3], table[table["adstock"] == choice.adstock]):  # each stage's rule
        lowest = float(stage["mape"].min())
        tied = stage[stage["mape"] <= lowest + 0.001]
        picked = tied.sort_values("nrmse").iloc[0]  # the lowest mean MAPE; ties within 0.1 point by NRMSE
        assert picked["adstock"] == choice.adstock
    assert (chosen["saturation"].iloc[0], chosen["adstock"].iloc[0]) == (picked["saturation"], picked["adstock"])
    assert (table["mape_se"] >= 0).all() and set(table["n_params"]) <= {2, 3, 4}
    out = choice.to_dict()
    assert out["adstock"] == choice.adstock and len(out["table"]) == 5 and "MAPE" in out["criterion"]
    assert all(0.0 <= row["coverage"] <= 1.0 for row in out["table"])


def test_the_model_is_fitted_with_the_pair_chosen_and_reports_the_comparison(
    chosen: tuple[MediaMixModel, FamilyChoice],
) -> None:
    model, choice = chosen
    report = model.fit_report_
    assert (report["adstock"], report["saturation"]) == (choice.adstock, choice.saturation)
    assert report["cross_validation"] == choice.to_dict()
    assert len(report["cross_validation"]["chosen_folds"]) == 2
    unchosen = MediaMixModel(controls=(), n_draws=0, period_days=7)
    assert unchosen.get_params()["adstock"] == "geometric" and unchosen.get_params()["saturation"] == "hill"


def test_unknown_families_are_refused(world: MediaMixWorld) -> None:
    with pytest.raises(InvalidInput, match="unknown adstock"):
        choose_families(world.X, world.y, period_days=7, adstocks=("gamma",))


def _report(mapes: list[float]) -> TimeSliceReport:
    folds = [FoldScore(f"2024-0{i + 1}-01", 50, 8, m, 0.1, 0.5) for i, m in enumerate(mapes)]
    mean: dict[str, float | None] = {"mape": float(np.mean(mapes)), "nrmse": 0.1, "r2": 0.5}
    worst: dict[str, float | None] = {"mape": max(mapes), "nrmse": 0.1, "r2": 0.5}
    return TimeSliceReport("week", 8, folds, mean, worst)


def test_the_paired_rule_leaves_geometric_hill_only_for_a_fold_by_fold_win() -> None:
    reports = {
        ("geometric", "hill"): _report([0.050, 0.060, 0.040, 0.070]),
        ("weibull", "hill"): _report([0.048, 0.058, 0.038, 0.068]),  # 0.2 point better in every fold
        ("delayed", "hill"): _report([0.030, 0.080, 0.020, 0.080]),  # lower mean, but not fold by fold
    }
    rows = [_row(a, s, r) for (a, s), r in reports.items()]
    assert _best(rows)["adstock"] == "delayed"  # the plain rule: the lowest mean MAPE
    assert _paired_best(rows, reports, ("geometric", "hill"))["adstock"] == "weibull"
    del reports[("weibull", "hill")]
    assert _paired_best(rows[::2], reports, ("geometric", "hill"))["adstock"] == "geometric"
