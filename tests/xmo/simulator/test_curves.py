"""Response curves: adstock carries spend over, Hill saturates."""

from __future__ import annotations

import numpy as np
import pytest

from xmo.simulator.curves import geometric_adstock, hill


def test_adstock_carries_a_share_of_yesterday_over() -> None:
    out = geometric_adstock([100.0, 0.0, 0.0, 50.0], decay=0.5, initial=20.0)
    assert out.tolist() == pytest.approx([110.0, 55.0, 27.5, 63.75])


def test_adstock_rejects_a_decay_outside_zero_to_one() -> None:
    with pytest.raises(ValueError, match="decay"):
        geometric_adstock([1.0], decay=1.0)


def test_hill_is_half_at_half_saturation_increasing_and_saturating() -> None:
    x = np.linspace(0, 1000, 201)
    y = hill(x, half_saturation=200.0, shape=1.3)
    assert hill([200.0], 200.0, 1.3)[0] == pytest.approx(0.5)
    assert np.all(np.diff(y) > 0) and y[-1] < 1.0
    gains = np.diff(y)
    assert gains[-1] < gains[len(gains) // 2] / 3, "the last euro buys much less than one in the middle"
