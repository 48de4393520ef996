"""The one geometric adstock: normalized carry-over, and its derivative in the decay."""

from __future__ import annotations

import numpy as np

from models.adstock import adstock_decay_derivative, adstock_matrix, geometric_adstock


def test_adstock_is_normalized() -> None:
    spend = np.random.default_rng(1).gamma(2.0, 100.0, 60)
    assert np.allclose(geometric_adstock(np.full(30, 250.0), 0.8), 250.0)  # a constant spend settles at itself
    assert np.allclose(geometric_adstock(spend, 0.0), spend)
    assert np.allclose(adstock_matrix(spend, [0.0, 0.6]), np.vstack([spend, geometric_adstock(spend, 0.6)]))
    assert geometric_adstock(np.array([]), 0.5).size == 0


def test_the_decay_derivative_matches_finite_differences() -> None:
    spend = np.random.default_rng(2).gamma(2.0, 100.0, 90)
    decay, h = 0.55, 1e-6
    numeric = (geometric_adstock(spend, decay + h) - geometric_adstock(spend, decay - h)) / (2 * h)
    analytic = adstock_decay_derivative(spend, geometric_adstock(spend, decay), decay)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)
