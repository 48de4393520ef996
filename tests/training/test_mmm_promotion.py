"""The media-mix gate's rules on comparisons: "no worse" within the tolerance, and no channel moved by more than
15 % of the total without a quarter of new data."""

from __future__ import annotations

import numpy as np
import pytest

from training.mmm_compare import Accuracy, ChannelChange, VersionComparison, _block_bootstrap_ratio
from training.mmm_promotion import ACCURACY_TOLERANCE, EVIDENCE_DAYS, accuracy_verdict, stability_verdict


def comparison(accuracy: Accuracy, moves: dict[str, float], new_days: int = 28) -> VersionComparison:
    channels = [ChannelChange(name, (0.5, 0.5), (2.0, 2.0), (100.0, 100.0 + 1000 * m), m) for name, m in moves.items()]
    return VersionComparison("1", "2", 1000.0, 7, channels, accuracy, new_days)


def shared(ratio: float) -> Accuracy:
    return Accuracy(
        "shared_holdout", ratio, (ratio - 0.2, ratio + 0.2), 20, "2025-08-11", "2025-12-22", 100.0, 100.0 * ratio
    )


def test_accuracy_no_worse_within_the_tolerance() -> None:
    ok, reason = accuracy_verdict(comparison(shared(1.0 + ACCURACY_TOLERANCE - 0.01), {"tv": 0.0}))
    assert ok and reason.startswith("accuracy no worse: on the 20 held-out periods")
    ok, reason = accuracy_verdict(comparison(shared(1.0 + ACCURACY_TOLERANCE + 0.01), {"tv": 0.0}))
    assert not ok and reason.startswith("accuracy worse") and "1.11×" in reason
    own = Accuracy("own_holdout", 1.5, champion=0.02, challenger=0.03)
    ok, reason = accuracy_verdict(comparison(own, {"tv": 0.0}))
    assert not ok and "different held-out periods" in reason and "3.0%" in reason
    ok, reason = accuracy_verdict(comparison(Accuracy("none", None), {"tv": 0.0}))
    assert not ok and "cannot tell" in reason


def test_advice_may_move_far_only_with_a_quarter_of_new_data() -> None:
    ok, reasons = stability_verdict(comparison(shared(1.0), {"tv": 0.10, "search": 0.10}))
    assert ok and "largest 10.0%" in reasons[0]
    ok, reasons = stability_verdict(comparison(shared(1.0), {"tv": 0.20, "search": 0.20}, new_days=28))
    assert not ok and "tv 20%, search 20%" in reasons[0] and "28 more days" in reasons[0]
    ok, reasons = stability_verdict(comparison(shared(1.0), {"tv": 0.20}, new_days=EVIDENCE_DAYS))
    assert ok and "explained by new evidence" in reasons[0]


def test_max_move_share_and_document() -> None:
    result = comparison(shared(1.0), {"tv": 0.05, "search": 0.12})
    assert result.max_move_share == pytest.approx(0.12)
    document = result.to_dict()
    assert document["max_move_share"] == pytest.approx(0.12) and document["accuracy"]["method"] == "shared_holdout"


def test_block_bootstrap_interval_holds_the_ratio() -> None:
    rng = np.random.default_rng(3)
    a = rng.uniform(1.0, 2.0, 24)
    low, high = _block_bootstrap_ratio(a, 1.2 * a)  # every period's error 20 % larger: the ratio is exact
    assert low == pytest.approx(1.2) and high == pytest.approx(1.2)
    low, high = _block_bootstrap_ratio(a, a[::-1])  # the same errors on other periods: no proof either way
    assert low < 1.0 < high
