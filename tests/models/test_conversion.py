from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

from models.conversion import ConversionModel


@parametrize_with_checks([ConversionModel(n_estimators=20)])
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
