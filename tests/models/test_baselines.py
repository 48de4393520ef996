from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from features.definitions import CATEGORICAL_FEATURES, FEATURE_NAMES, NUMERIC_FEATURES, prepare_features
from models.baselines import HistGradientBoostingBaseline, LogisticBaseline

BASELINES = [LogisticBaseline(), HistGradientBoostingBaseline(max_iter=60)]


@parametrize_with_checks([LogisticBaseline(), HistGradientBoostingBaseline(max_iter=20)])
def test_sklearn_contract(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def session_records(n: int, seed: int, campaigns: tuple[str, ...] = ("spring", "summer", "brand")) -> pd.DataFrame:
    """Raw session records with gaps, and a conversion label that depends on channel, device and engagement."""
    rng = np.random.default_rng(seed)
    medium = rng.choice(["cpc", "email", "paid_social"], n)
    device = rng.choice(["desktop", "mobile", "tablet"], n, p=[0.5, 0.4, 0.1])
    pageviews = rng.poisson(3, n).astype(float)
    prev_sessions = rng.poisson(1, n).astype(float)
    logit = (
        -4.0
        + 0.7 * pageviews
        + np.where(medium == "email", 1.5, 0.0)
        + np.where(device == "mobile", -1.2, 0.0)
        + 0.3 * np.minimum(prev_sessions, 3)
    )
    records = pd.DataFrame(
        {
            "started_at": pd.Timestamp("2026-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 86400, n), "s"),
            "utm_source": np.where(medium == "email", "newsletter", "google"),
            "utm_medium": medium,
            "campaign_id": rng.choice(list(campaigns), n),
            "device_class": device,
            "browser_family": rng.choice(["Chrome", "Firefox", "Safari"], n),
            "region": pd.Series(rng.choice(["DE-BE", "FR-75"], n)).where(rng.random(n) >= 0.2),
            "pageviews": pageviews,
            "clicks": rng.poisson(1, n).astype(float),
            "duration_s": np.where(rng.random(n) < 0.1, np.nan, rng.exponential(120, n)),
            "prev_sessions": prev_sessions,
            "landing_path": rng.choice(["/", "/a", "/a/b"], n),
        }
    )
    records["converted"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return records


def prepared(n: int, seed: int, **kwargs: tuple[str, ...]) -> tuple[pd.DataFrame, np.ndarray]:
    records = session_records(n, seed, **kwargs)
    return prepare_features(records, "Europe/Berlin"), records["converted"].to_numpy()


def test_the_synthetic_frame_has_the_shape_of_prepare_features() -> None:
    X, _ = prepared(200, 0)
    assert list(X.columns) == list(FEATURE_NAMES)
    assert all(isinstance(X[c].dtype, pd.CategoricalDtype) for c in CATEGORICAL_FEATURES)
    assert all(X[c].dtype == np.float64 for c in NUMERIC_FEATURES)
    assert X["creative_id"].isna().all() and X["days_since_last_session"].isna().all()
    assert X["region"].isna().any() and X["duration_s"].isna().any()


@pytest.mark.parametrize("baseline", BASELINES, ids=["logistic", "hist_gradient_boosting"])
def test_baselines_learn_the_signal_from_prepared_features(baseline: BaseEstimator) -> None:
    X, y = prepared(6000, 1)
    X_valid, y_valid = prepared(2000, 2)
    X_test, y_test = prepared(3000, 3)
    model = type(baseline)().fit(X, y, eval_set=(X_valid, y_valid))  # default settings
    proba = model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert roc_auc_score(y_test, proba[:, 1]) > 0.75
    assert set(model.predict(X_test)) <= {0, 1}


@pytest.mark.parametrize("baseline", BASELINES, ids=["logistic", "hist_gradient_boosting"])
def test_unseen_categories_and_missing_columns_values_do_not_crash(baseline: BaseEstimator) -> None:
    X, y = prepared(3000, 4)
    X_new, _ = prepared(500, 5, campaigns=("winter", "brand", "autumn"))
    assert set(X_new["campaign_id"].cat.categories) - set(X["campaign_id"].cat.categories)
    X_new["device_class"] = pd.Categorical(["smartwatch"] * len(X_new))
    X_new.loc[X_new.index[:50], "pageviews"] = np.nan
    proba = clone(baseline).fit(X, y).predict_proba(X_new)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_high_cardinality_categories_fit_the_gradient_boosting_baseline() -> None:
    X, y = prepared(3000, 6)
    X["campaign_id"] = pd.Categorical([f"cmp-{i % 400}" for i in range(len(X))])
    model = HistGradientBoostingBaseline(max_iter=20).fit(X, y)
    assert len(model.levels_["campaign_id"]) == 255
    assert "days_since_last_session" not in model.columns_, "a number never observed is left out"
    assert np.isfinite(model.predict_proba(X)).all()


@pytest.mark.parametrize("baseline", BASELINES, ids=["logistic", "hist_gradient_boosting"])
def test_one_class_is_a_clear_error(baseline: BaseEstimator) -> None:
    X, _ = prepared(100, 7)
    with pytest.raises(ValueError, match="needs 2 classes"):
        clone(baseline).fit(X, np.zeros(len(X), dtype=int))


@pytest.mark.parametrize("baseline", BASELINES, ids=["logistic", "hist_gradient_boosting"])
def test_missing_feature_is_a_clear_error(baseline: BaseEstimator) -> None:
    X, y = prepared(500, 8)
    model = clone(baseline).fit(X, y)
    with pytest.raises(ValueError, match="pageviews"):
        model.predict_proba(X.drop(columns="pageviews"))


def test_gradient_boosting_stops_early_on_the_eval_set() -> None:
    X, y = prepared(4000, 9)
    X_valid, y_valid = prepared(2000, 10)
    model = HistGradientBoostingBaseline(max_iter=500, learning_rate=0.3, n_iter_no_change=10).fit(
        X, y, eval_set=(X_valid, y_valid)
    )
    assert 1 <= model.best_iteration_ < 500
