"""Time-ordered train / valid / test splits: the oldest sessions train, the newest test.

Boundaries fall on whole UTC hours, so a manifest that records them reveals no session's exact start:
all sessions of one hour land in the same split, and the fractions are met as closely as that allows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InvalidInput

SPLITS: tuple[str, ...] = ("train", "valid", "test")
SPLIT_DTYPE = pd.CategoricalDtype(list(SPLITS), ordered=True)


@dataclass(frozen=True)
class SplitBoundaries:
    """First instants (UTC, whole hours) of the valid and test splits; None where that split is empty."""

    valid_start: pd.Timestamp | None
    test_start: pd.Timestamp | None


def check_fractions(valid_fraction: float, test_fraction: float) -> None:
    """Raise ``InvalidInput`` unless both fractions are in [0, 1) and leave some rows to train on."""
    for name, value in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise InvalidInput(f"{name} must be at least 0 and below 1, not {value}")
    if valid_fraction + test_fraction >= 1.0:
        raise InvalidInput(
            f"valid_fraction + test_fraction must stay below 1 (got {valid_fraction + test_fraction:g}): "
            "nothing would be left to train on"
        )


def split_boundaries(started_at: pd.Series, valid_fraction: float, test_fraction: float) -> SplitBoundaries:
    """Hour boundaries that put about the newest ``test_fraction`` of sessions in test, the ``valid_fraction``
    before them in valid, and the rest in train."""
    return boundaries_from_hour_counts(hour_counts(started_at), valid_fraction, test_fraction)


def hour_counts(started_at: pd.Series) -> pd.Series:
    """Sessions per UTC hour (index: whole-hour UTC timestamps): all the splits need, cheap to merge."""
    hours = pd.to_datetime(started_at.dropna(), utc=True).dt.floor("h")
    counts: pd.Series = hours.value_counts().rename("sessions")
    return counts


def merge_hour_counts(parts: list[pd.Series]) -> pd.Series:
    """The hour counts of several partitions as one."""
    if not parts:
        return pd.Series([], dtype="int64", name="sessions")
    merged: pd.Series = pd.concat(parts).groupby(level=0).sum().rename("sessions")
    return merged


def boundaries_from_hour_counts(counts: pd.Series, valid_fraction: float, test_fraction: float) -> SplitBoundaries:
    """:func:`split_boundaries` from sessions per hour: the same boundaries as from every start time."""
    check_fractions(valid_fraction, test_fraction)
    counts = counts[counts > 0].sort_index()
    cumulative = np.cumsum(counts.to_numpy(dtype="int64"))
    n = int(cumulative[-1]) if len(cumulative) else 0
    n_test = round(n * test_fraction)
    n_valid = round(n * valid_fraction)

    def hour_at(position: int) -> pd.Timestamp:
        # The hour of the session at ``position`` (0-based) in start order.
        index = int(np.searchsorted(cumulative, position, side="right"))
        return pd.Timestamp(counts.index[index]).tz_convert("UTC")

    test_start = hour_at(n - n_test) if n_test > 0 else None
    valid_start = hour_at(n - n_test - n_valid) if n_valid > 0 else None
    return SplitBoundaries(valid_start=valid_start, test_start=test_start)


def assign_splits(started_at: pd.Series, boundaries: SplitBoundaries) -> pd.Series:
    """``train``, ``valid`` or ``test`` for each session start (an ordered categorical)."""
    split = np.full(len(started_at), "train", dtype=object)
    if boundaries.valid_start is not None:
        split[(started_at >= boundaries.valid_start).to_numpy(dtype=bool)] = "valid"
    if boundaries.test_start is not None:
        split[(started_at >= boundaries.test_start).to_numpy(dtype=bool)] = "test"
    return pd.Series(pd.Categorical(split, dtype=SPLIT_DTYPE), index=started_at.index, name="split")
