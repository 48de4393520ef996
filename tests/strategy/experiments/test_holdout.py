"""Visitor holdouts: keyed assignment, design by simulation, reading with CUPED and the sample-ratio check."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput, NotReady
from strategy.experiments.holdout import (
    analyze_holdout,
    design_holdout,
    holdout_audience,
    holdout_position,
    holdout_positions,
    in_holdout,
)
from strategy.experiments.results import DesignRequest
from tracking.experiments import Experiment

KEY = b"k" * 32
START = date(2026, 3, 2)
WEEKS = 2
TODAY = START + timedelta(weeks=WEEKS)


def _experiment(share: float = 0.2, experiment_id: str = "holdout-email-20260302", **changes: object) -> Experiment:
    base = Experiment(
        experiment_id=experiment_id,
        client_id="acme",
        type="holdout",
        channel="email",
        campaign_id=None,
        kpi="conversions",
        action="pause",
        start_date=START,
        end_date=START + timedelta(days=7 * WEEKS - 1),
        weeks=WEEKS,
        lift=0.1,
        level=0.9,
        treatment_regions=(),
        control_regions=(),
        holdout_share=share,
        spend_change=-1000.0,
        design={"units": 4000},
        status="running",
        created_at=datetime(2026, 3, 1, tzinfo=UTC),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def _sessions(
    experiment: Experiment | None, *, n: int = 4000, effect: float = 0.0, holdout_keep: float = 1.0, seed: int = 1
) -> pd.DataFrame:
    """Returning visitors with a propensity shared by the lookback and the test; treated conversions × (1+effect).

    ``holdout_keep`` < 1 drops that share's complement of holdout visitors from the test (a planted SRM).
    """
    rng = np.random.default_rng(seed)
    ids = np.array([uuid.UUID(int=int(v)).hex for v in rng.integers(0, 2**63, size=n)])
    propensity = rng.gamma(0.6, 0.5, size=n)
    held = (
        holdout_positions(KEY, experiment.experiment_id, ids) < (experiment.holdout_share or 0)
        if experiment is not None
        else np.zeros(n, dtype=bool)
    )
    rows = []
    for period_start, test in ((START - timedelta(weeks=WEEKS), False), (START, True)):
        sessions = rng.poisson(propensity * 1.5) + (rng.random(n) < 0.3)
        rate = np.clip(propensity * 0.3, 0, 0.9)
        if test:
            rate = np.where(held, rate, np.clip(rate * (1 + effect), 0, 0.95))
            sessions = np.where(held & (rng.random(n) > holdout_keep), 0, sessions)
        for i in np.flatnonzero(sessions):
            for _ in range(int(sessions[i])):
                converted = rng.random() < rate[i]
                rows.append(
                    {
                        "visitor_id": ids[i],
                        "started_at": pd.Timestamp(period_start, tz="UTC")
                        + pd.Timedelta(hours=float(rng.uniform(0, 24 * 7 * WEEKS - 1))),
                        "converted": converted,
                        "conversions": int(converted),
                        "conversion_value": 50.0 * converted,
                    }
                )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def experiment() -> Experiment:
    return _experiment()


@pytest.fixture(scope="module")
def effect_sessions(experiment: Experiment) -> pd.DataFrame:
    return _sessions(experiment, effect=0.4)


def test_assignment_is_stable_near_the_share_and_independent_across_experiments() -> None:
    rng = np.random.default_rng(0)
    ids = [uuid.UUID(int=int(v)).hex for v in rng.integers(0, 2**63, size=10_000)]
    a = holdout_positions(KEY, "holdout-a", ids)
    b = holdout_positions(KEY, "holdout-b", ids)
    assert holdout_position(KEY, "holdout-a", ids[0]) == a[0] == holdout_position(KEY, "holdout-a", ids[0])
    assert ((a >= 0) & (a < 1)).all()
    share, n = 0.2, len(ids)
    se = np.sqrt(share * (1 - share) / n)
    assert abs((a < share).mean() - share) < 3 * se
    both = ((a < share) & (b < share)).mean()
    assert abs(both - share * share) < 3 * np.sqrt(share**2 * (1 - share**2) / n)
    assert holdout_position(b"other-key" * 4, "holdout-a", ids[0]) != a[0]
    exp = _experiment(share=0.2, experiment_id="holdout-a")
    assert [in_holdout(KEY, exp, v) for v in ids[:50]] == list(a[:50] < 0.2)
    with pytest.raises(InvalidInput, match="not a visitor holdout"):
        in_holdout(KEY, _experiment(type="geo", holdout_share=None), ids[0])


def test_analysis_recovers_a_planted_effect_with_cuped(experiment: Experiment, effect_sessions: pd.DataFrame) -> None:
    analysis = analyze_holdout(experiment, effect_sessions, KEY, today=TODAY)
    conv = analysis.metrics["conversions"]
    assert not analysis.interim and analysis.end == experiment.end_date
    assert conv.low > 0, conv  # the planted +40 % is detected
    assert conv.relative_lift is not None and 0.15 < conv.relative_lift < 0.7
    assert conv.variance_reduction is not None and conv.variance_reduction > 0.1  # returning visitors
    assert conv.raw_low is not None and conv.raw_high is not None
    assert conv.high - conv.low < conv.raw_high - conv.raw_low
    assert conv.always_valid_low is not None and conv.always_valid_low < conv.low
    assert conv.counterfactual == pytest.approx(conv.actual - conv.incremental)
    assert analysis.roi == pytest.approx(conv.incremental / 1000.0)
    assert analysis.sample_ratio is not None and analysis.sample_ratio["ok"]
    assert not any("sample ratio" in w for w in analysis.warnings)
    assert "revenue" in analysis.metrics
    assert analysis.to_dict()["metrics"]["conversions"]["incremental"] == pytest.approx(conv.incremental)


def test_sample_ratio_mismatch_and_interim_are_flagged(experiment: Experiment) -> None:
    sessions = _sessions(experiment, holdout_keep=0.0, seed=3)
    # Holdout visitors seen only in the lookback still count: drop their lookback too for a real mismatch.
    held = holdout_positions(KEY, experiment.experiment_id, sessions["visitor_id"]) < 0.2
    sessions = sessions[~held | (np.arange(len(sessions)) % 3 == 0)]
    analysis = analyze_holdout(experiment, sessions, KEY, today=START + timedelta(days=5))
    assert analysis.interim and analysis.end == START + timedelta(days=4)
    assert analysis.sample_ratio is not None and not analysis.sample_ratio["ok"]
    assert any(w.startswith("sample ratio mismatch:") for w in analysis.warnings)
    with pytest.raises(NotReady, match="no full day"):
        analyze_holdout(experiment, sessions, KEY, today=START)


def test_design_powers_by_simulation_and_warns_when_underpowered() -> None:
    sessions = _sessions(None, seed=5)
    today = START + timedelta(weeks=WEEKS)  # history: lookback and a test-like window before today
    strong = design_holdout(
        DesignRequest(type="holdout", channel="email", lift=0.5, weeks=WEEKS, holdout_share=0.3, kpi="conversions"),
        sessions,
        today=today,
    )
    weak = design_holdout(
        DesignRequest(type="holdout", channel="email", lift=0.02, weeks=WEEKS, holdout_share=0.05),
        sessions,
        today=today,
    )
    assert strong.power > 0.8 and not strong.warnings
    assert weak.power < 0.5 and weak.warnings and "minimum detectable lift" in weak.warnings[0]
    assert weak.kpi == "revenue"  # goals carry value
    assert strong.units is not None and strong.units > 2000 and strong.holdout_share == 0.3
    assert 0.05 < strong.minimum_detectable_lift < 0.5
    assert strong.false_positive_rate is not None and strong.false_positive_rate < 0.2
    assert strong.end == today + timedelta(days=7 * WEEKS - 1)
    at_mdl = design_holdout(
        DesignRequest(
            type="holdout",
            channel="email",
            lift=strong.minimum_detectable_lift,
            weeks=WEEKS,
            holdout_share=0.3,
            kpi="conversions",
        ),
        sessions,
        today=today,
    )
    assert 0.65 < at_mdl.power < 0.93  # the simulation agrees with the MDL's promised 80 %
    few = sessions[sessions["visitor_id"].isin(sessions["visitor_id"].unique()[:30])]
    sparse = design_holdout(DesignRequest(type="holdout", channel="email", weeks=WEEKS), few, today=today)
    assert sparse.power < 0.5 and sparse.minimum_detectable_lift > 1 and sparse.warnings
    assert sparse.to_dict()["minimum_detectable_lift"] <= 5
    with pytest.raises(InvalidInput, match="holdout share"):
        design_holdout(DesignRequest(type="holdout", channel="email", holdout_share=0.6), sessions, today=today)
    with pytest.raises(NotReady, match="visitors"):
        design_holdout(DesignRequest(type="holdout", channel="email"), sessions.iloc[:0], today=today)


def test_audience_lists_the_held_out_visitors(experiment: Experiment, effect_sessions: pd.DataFrame) -> None:
    audience = holdout_audience(experiment, effect_sessions, KEY)
    visitors = effect_sessions["visitor_id"].unique()
    assert audience == sorted(v for v in visitors if in_holdout(KEY, experiment, v))
    assert 0.15 < len(audience) / len(visitors) < 0.25
