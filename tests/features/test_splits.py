"""Time splits: oldest train, newest test, boundaries on whole hours."""

from __future__ import annotations

import pandas as pd
import pytest

from core.errors import InvalidInput
from features.splits import SplitBoundaries, assign_splits, split_boundaries


def _starts(n: int) -> pd.Series:
    """``n`` session starts 30 minutes apart, shuffled (order of rows must not matter)."""
    times = pd.date_range("2024-03-04T00:10Z", periods=n, freq="30min").as_unit("us")
    return pd.Series(times).sample(frac=1.0, random_state=3)


def test_oldest_sessions_train_and_newest_test() -> None:
    starts = _starts(100)
    boundaries = split_boundaries(starts, 0.15, 0.15)
    split = assign_splits(starts, boundaries)

    assert boundaries == SplitBoundaries(pd.Timestamp("2024-03-05T11:00Z"), pd.Timestamp("2024-03-05T18:00Z"))
    assert split.value_counts().to_dict() == {"train": 70, "valid": 14, "test": 16}
    by_split = starts.groupby(split, observed=True)
    assert by_split.max()["train"] < by_split.min()["valid"]
    assert by_split.max()["valid"] < by_split.min()["test"]
    assert split.index.equals(starts.index)
    assert list(split.cat.categories) == ["train", "valid", "test"] and split.cat.ordered


def test_boundaries_are_whole_hours() -> None:
    boundaries = split_boundaries(_starts(37), 0.2, 0.3)
    for moment in (boundaries.valid_start, boundaries.test_start):
        assert moment is not None
        assert moment == moment.floor("h")
        assert str(moment.tz) == "UTC"


def test_zero_fractions_put_everything_in_train() -> None:
    starts = _starts(10)
    boundaries = split_boundaries(starts, 0.0, 0.0)
    assert boundaries == SplitBoundaries(None, None)
    assert set(assign_splits(starts, boundaries)) == {"train"}


@pytest.mark.parametrize(("valid", "test"), [(-0.1, 0.1), (0.1, 1.0), (0.5, 0.5), (0.7, 0.4)])
def test_fractions_must_leave_rows_to_train(valid: float, test: float) -> None:
    with pytest.raises(InvalidInput):
        split_boundaries(_starts(10), valid, test)
