from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.conversion import ConversionModel, monotone_constraints


@parametrize_with_checks([ConversionModel(n_estimators=20), ConversionModel(n_estimators=20, monotone=True)])
def test_sklearn_contract(estimator, check) -> None:  # type: ignore[no-untyped-def]
    check(estimator)


def synthetic(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    device = pd.Categorical(rng.choice(["desktop", "mobile", "tablet"], n))
    pageviews = rng.poisson(3, n).astype(float)
    logit = -3 + 0.4 * pageviews + np.where(device == "mobile", -1.0, 0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"device_class": device, "pageviews": pageviews}), y


def test_learns_categorical_and_numeric_signal() -> None:
    X, y = synthetic(6000, 1)
    X_test, y_test = synthetic(3000, 2)
    model = ConversionModel(n_estimators=200).fit(X, y, eval_set=(X_test, y_test))
    p = model.predict_proba(X_test)[:, 1]
    assert roc_auc_score(y_test, p) > 0.7
    mobile = X_test.assign(
        device_class=pd.Categorical(["mobile"] * len(X_test), categories=X.device_class.cat.categories)
    )
    desktop = mobile.assign(
        device_class=pd.Categorical(["desktop"] * len(X_test), categories=X.device_class.cat.categories)
    )
    assert model.predict_proba(desktop)[:, 1].mean() > model.predict_proba(mobile)[:, 1].mean()
    assert 1 <= model.best_iteration_ <= 200


def test_contributions_add_up_to_the_log_odds() -> None:
    X, y = synthetic(3000, 3)
    model = ConversionModel(n_estimators=50).fit(X, y)
    contributions = model.contributions(X.head(20))
    p = model.predict_proba(X.head(20))[:, 1]
    assert list(contributions.columns) == ["device_class", "pageviews", "bias"]
    np.testing.assert_allclose(contributions.sum(axis=1), np.log(p / (1 - p)), rtol=1e-6, atol=1e-6)


def test_missing_feature_is_a_clear_error() -> None:
    X, y = synthetic(500, 4)
    model = ConversionModel(n_estimators=5).fit(X, y)
    with pytest.raises(ValueError, match="pageviews"):
        model.predict_proba(X[["device_class"]])


def bumpy(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Conversions rise with pageviews and clicks, except for a dip at 5-8 pageviews (and noise)."""
    rng = np.random.default_rng(seed)
    device = pd.Categorical(rng.choice(["desktop", "mobile"], n))
    hour = rng.integers(0, 24, n).astype(float)
    pageviews = rng.integers(0, 16, n).astype(float)
    clicks = rng.poisson(1, n).astype(float)
    dip = np.where((pageviews >= 5) & (pageviews <= 8), -1.5, 0.0)
    logit = -2.5 + 0.25 * pageviews + 0.3 * clicks + dip + np.where(device == "mobile", -0.5, 0.3)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    frame = pd.DataFrame({"device_class": device, "hour": hour, "pageviews": pageviews, "clicks": clicks})
    return frame, y


def worst_drop_over_pageviews(model: ConversionModel, X: pd.DataFrame) -> float:
    """The largest fall in P(conversion) of any row when its pageviews grow step by step from 0 to 20."""
    curves = np.column_stack([model.predict_proba(X.assign(pageviews=float(v)))[:, 1] for v in range(21)])
    return float(-np.diff(curves, axis=1).min())


def test_monotone_model_never_scores_more_pageviews_lower() -> None:
    X, y = bumpy(8000, 7)
    X_test, _ = bumpy(300, 8)
    free = ConversionModel(n_estimators=150).fit(X, y)
    constrained = ConversionModel(n_estimators=150, monotone=True).fit(X, y)
    assert worst_drop_over_pageviews(free, X_test) > 0.02, "without constraints the dip is learned"
    assert worst_drop_over_pageviews(constrained, X_test) <= 1e-12
    assert constrained.booster_.params["monotone_constraints"] == [0, 0, 1, 1]
    assert "monotone_constraints" not in free.booster_.params


def test_monotone_constraints_follow_column_names() -> None:
    assert monotone_constraints(["clicks", "channel", "duration_s", "prev_conversions", "hour"]) == [1, 0, 1, 1, 0]
    X, y = bumpy(2000, 9)
    reordered = X[["clicks", "device_class", "pageviews"]]
    model = ConversionModel(n_estimators=20, monotone=True).fit(reordered, y)
    assert model.booster_.params["monotone_constraints"] == [1, 0, 1]
    assert model.booster_.dump_model()["monotone_constraints"] == [1, 0, 1]
