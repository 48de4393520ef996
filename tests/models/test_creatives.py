from __future__ import annotations

import numpy as np
import pandas as pd

from models.creatives import CreativeSelector, sessions_needed


def sessions(n: int, rates: dict[tuple[str, str], float], seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    keys = list(rates)
    picks = rng.integers(0, len(keys), n)
    frame = pd.DataFrame(
        {"campaign_id": "cmp", "creative_id": [keys[i][0] for i in picks], "device_class": [keys[i][1] for i in picks]}
    )
    p = np.array([rates[keys[i]] for i in picks])
    return frame.assign(converted=rng.random(n) < p)


def test_best_creative_differs_by_segment_and_is_found() -> None:
    data = sessions(
        40_000, {("a", "mobile"): 0.08, ("b", "mobile"): 0.04, ("a", "desktop"): 0.03, ("b", "desktop"): 0.07}
    )
    recs = CreativeSelector().fit(data).recommendations().set_index("segment")
    assert recs.loc["mobile", "best_creative_id"] == "a"
    assert recs.loc["desktop", "best_creative_id"] == "b"
    assert (recs.loc[["mobile", "desktop"], "decision"] == "run").all()
    assert recs.loc["mobile", "ci_low"] < recs.loc["mobile", "conversion_rate"] < recs.loc["mobile", "ci_high"]


def test_thin_evidence_says_not_enough_data_with_an_estimate() -> None:
    data = sessions(300, {("a", "mobile"): 0.05, ("b", "mobile"): 0.06}, seed=3)
    rec = CreativeSelector().fit(data).recommendations().set_index("segment").loc["mobile"]
    assert rec["decision"] == "not_enough_data"
    assert rec["more_sessions_needed"] > 0


def test_sessions_needed_grows_as_difference_shrinks() -> None:
    assert sessions_needed(0.06, 0.05) > sessions_needed(0.08, 0.05) > 0
