"""Time-based regression on data nobody here wrote: Google's matched_markets post-analysis example.

``data/matched_markets_post_analysis.csv.gz`` is ``matched_markets/csv/example_data_for_post_analysis.csv`` from
github.com/google/matched_markets (Apache License 2.0, © Google LLC): 100 geos, daily response and cost, 2015-01-05
to 2015-04-07; group 1 spent 50,000 in 2015-02-16..2015-03-15, group 2 spent nothing. The repository's tests pin
the R reference implementation's TBR summary: incremental response 147,337.122, iROAS 2.946742, one-sided 90 %
lower bound 2.826194 (xmo's: 2.790, wider for the errors' autocorrelation). The export leaves out days without
sales of small geos; they are zeros.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from models.geo_design import time_based_regression

DATA = Path(__file__).parent / "data" / "matched_markets_post_analysis.csv.gz"
R_INCREMENTAL, R_IROAS, R_LOWER_ONE_SIDED_90 = 147_337.122, 2.946742, 2.826194


@pytest.fixture(scope="module")
def experiment() -> tuple[pd.DataFrame, list[str], list[str], pd.Timestamp, pd.Timestamp, float]:
    raw = pd.read_csv(DATA, parse_dates=["date"])
    raw["region"] = raw["geo"].astype(str)
    spent = raw[raw["cost"] > 0]
    start, end = spent["date"].min(), spent["date"].max()
    treatment = sorted(raw.loc[raw["assignment"] == 1, "region"].unique())
    control = sorted(raw.loc[raw["assignment"] == 2, "region"].unique())
    history = (
        raw.pivot_table(index="date", columns="region", values="response", fill_value=0.0)
        .stack()
        .rename("kpi")
        .reset_index()
    )
    return history, treatment, control, start, end, float(spent["cost"].sum())


def test_tbr_matches_the_reference_implementation_on_its_example(experiment) -> None:
    history, treatment, control, start, end, cost = experiment
    estimate = time_based_regression(history, treatment, control, start, end, level=0.8)
    assert cost == pytest.approx(50_000.0)
    assert estimate.incremental == pytest.approx(R_INCREMENTAL, abs=0.01)
    assert estimate.incremental / cost == pytest.approx(R_IROAS, abs=1e-6)
    assert (estimate.n_pre, estimate.n_test) == (42, 28)
    # the two-sided 80 % interval's lower end is the one-sided 90 % bound; the R code takes the daily errors as
    # independent, xmo as AR(1): these residuals' lag-1 autocorrelation is 0.24, so xmo's bound lies lower
    lower_iroas = estimate.interval[0] / cost
    assert R_LOWER_ONE_SIDED_90 - 0.05 < lower_iroas < R_LOWER_ONE_SIDED_90


def test_missing_days_are_refused_not_guessed(experiment) -> None:
    history, treatment, control, start, end, _ = experiment
    gappy = history[~((history["region"] == "100") & (history["kpi"] == 0.0))]
    with pytest.raises(Exception, match="misses periods"):
        time_based_regression(gappy, treatment, control, start, end)
