"""Rule-based attribution over touchpoint paths: last, first, linear, position-based and time-decay.

Each converting journey (a row of :func:`features.paths.touchpoint_paths`) hands out one conversion and its
``conversion_value``; a rule splits them over the journey's touchpoints with weights that sum to 1:

- ``last`` / ``first``: everything to the last / first touchpoint;
- ``linear``: ``1/n`` to each of the ``n`` touchpoints;
- ``position`` (U-shaped): ``first`` and ``last`` shares of ``position_weights`` (40 % each by default) to the
  first and last touchpoints and the ``middle`` share split evenly over the others; a journey of one touchpoint
  gives it everything, a journey of two splits in the ratio first : last (50/50 by default);
- ``time-decay``: weight ``2 ** (-age / half_life_days)``, ``age`` the days between the touchpoint and the
  conversion (the start of the converting session), normalized per journey.

A touchpoint is a channel or a campaign (``by``); a journey that touches one twice credits it twice. Journeys
are flattened into one row per touchpoint with NumPy, so no Python loop runs per journey.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

from core.errors import InvalidInput, NotReady
from features.paths import PATH_KINDS

PathKind = Literal["channels", "campaigns"]
Rule = Literal["last", "first", "linear", "position", "time-decay"]
RULES: tuple[str, ...] = ("last", "first", "linear", "position", "time-decay")
DEFAULT_POSITION_WEIGHTS = (0.4, 0.2, 0.4)
DEFAULT_HALF_LIFE_DAYS = 7.0
CREDIT_COLUMNS: tuple[str, ...] = ("conversions", "value")
_DAY_NS = 86_400 * 10**9


@dataclass(frozen=True)
class Touches:
    """Journeys flattened to one entry per touchpoint (journeys in the order of the path frame)."""

    journey: npt.NDArray[np.int64]  # row of the path frame
    position: npt.NDArray[np.int64]  # 0 = first touchpoint of its journey
    length: npt.NDArray[np.int64]  # touchpoints of its journey
    code: npt.NDArray[np.int64]  # index into ``keys``
    keys: npt.NDArray[np.object_]  # distinct touchpoints, sorted
    converted: npt.NDArray[np.bool_]  # per journey
    value: npt.NDArray[np.float64]  # per journey


def check_path_kind(by: str) -> None:
    """Raise :class:`InvalidInput` unless ``by`` names a list of the path frame."""
    if by not in PATH_KINDS:
        raise InvalidInput(f"by must be one of {', '.join(PATH_KINDS)}, not {by!r}")


def require_conversions(converting: int) -> None:
    """Raise :class:`NotReady` when there is nothing to attribute."""
    if converting <= 0:
        raise NotReady("no converting journeys: attribution needs at least one conversion")


def flatten(paths: pd.DataFrame, by: str) -> Touches:
    """``paths[by]`` as flat arrays, one entry per touchpoint."""
    check_path_kind(by)
    missing = [c for c in (by, "converted", "conversion_value") if c not in paths.columns]
    if missing:
        raise InvalidInput(f"the path frame lacks the column(s) {', '.join(missing)}")
    lists = paths[by].to_numpy(dtype=object)
    lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    if (lengths == 0).any():
        raise InvalidInput("a journey without touchpoints cannot be attributed")
    total = int(lengths.sum())
    flat = np.fromiter(itertools.chain.from_iterable(lists), dtype=object, count=total)
    codes, keys = pd.factorize(flat, sort=True)
    starts = np.cumsum(lengths) - lengths
    return Touches(
        journey=np.repeat(np.arange(len(lists), dtype=np.int64), lengths),
        position=np.arange(total, dtype=np.int64) - np.repeat(starts, lengths),
        length=np.repeat(lengths, lengths),
        code=codes.astype(np.int64),
        keys=np.asarray(keys, dtype=object),
        converted=paths["converted"].astype(bool).to_numpy(),
        value=pd.to_numeric(paths["conversion_value"], errors="coerce").fillna(0.0).to_numpy(dtype=float),
    )


def check_position_weights(weights: tuple[float, float, float]) -> tuple[float, float, float]:
    """``(first, middle, last)`` shares: three non-negative numbers that sum to 1."""
    values = tuple(float(w) for w in weights)
    if len(values) != 3 or any(not np.isfinite(w) or w < 0 for w in values) or abs(sum(values) - 1) > 1e-9:
        raise InvalidInput(
            f"position weights must be three non-negative shares (first, middle, last) summing to 1, not {weights!r}"
        )
    return values[0], values[1], values[2]


def _touch_times_ns(paths: pd.DataFrame) -> npt.NDArray[np.int64]:
    """Every touchpoint's time as int64 nanoseconds since the epoch (UTC), flattened like :func:`flatten`."""
    flat = list(itertools.chain.from_iterable(paths["touch_times"].to_numpy(dtype=object)))
    return pd.DatetimeIndex(pd.to_datetime(flat, utc=True)).as_unit("ns").asi8


def touch_weights(
    paths: pd.DataFrame,
    touches: Touches,
    rule: str,
    *,
    position_weights: tuple[float, float, float] = DEFAULT_POSITION_WEIGHTS,
    half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
) -> npt.NDArray[np.float64]:
    """Each touchpoint's share of its journey under ``rule`` (shares of a journey sum to 1)."""
    pos, n = touches.position, touches.length
    if rule == "last":
        return (pos == n - 1).astype(float)
    if rule == "first":
        return (pos == 0).astype(float)
    if rule == "linear":
        return 1.0 / n
    if rule == "position":
        first, middle, last = check_position_weights(position_weights)
        ends = first + last
        two_first, two_last = (first / ends, last / ends) if ends > 0 else (0.5, 0.5)
        long = np.where(pos == 0, first, np.where(pos == n - 1, last, middle / np.maximum(n - 2, 1)))
        two = np.where(pos == 0, two_first, two_last)
        return np.where(n == 1, 1.0, np.where(n == 2, two, long))
    if rule == "time-decay":
        if not (np.isfinite(half_life_days) and half_life_days > 0):
            raise InvalidInput(f"half_life_days must be a positive number, not {half_life_days!r}")
        if "touch_times" not in paths.columns:
            raise InvalidInput("the path frame lacks the column touch_times")
        times = _touch_times_ns(paths)
        last_index = np.flatnonzero(pos == n - 1)  # one per journey, in journey order
        ages = (times[last_index][touches.journey] - times) / _DAY_NS
        raw = np.exp2(-np.maximum(ages, 0.0) / half_life_days)
        sums = np.bincount(touches.journey, weights=raw, minlength=len(touches.converted))
        return raw / sums[touches.journey]
    raise InvalidInput(f"unknown rule {rule!r}; choose one of {', '.join(RULES)}")


def touch_pairs(touches: Touches) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct ``journey × keys + code`` pairs (sorted) and, per touch, the index of its pair.

    A sort, not ``np.unique``: NumPy's hash-based unique is several times slower on millions of touches.
    """
    size = max(len(touches.keys), 1)
    pair = touches.journey * size + touches.code
    order = np.argsort(pair, kind="stable")
    ordered = pair[order]
    new = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.zeros(0, dtype=bool)
    index = np.empty(len(pair), dtype=np.int64)
    index[order] = np.cumsum(new) - 1
    return ordered[new], index


def distinct_key_shares(touches: Touches, key_weights: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Per-touch shares that give each distinct touchpoint of a journey ``key_weights[key]`` / (their sum over the
    journey's distinct touchpoints), split evenly over its repeats; equal split when a journey's weights are all 0."""
    size = max(len(touches.keys), 1)
    pairs, touch_pair = touch_pairs(touches)
    repeats = np.bincount(touch_pair, minlength=len(pairs))
    pair_journey = pairs // size
    weight = np.asarray(key_weights, dtype=float)[pairs % size]
    journeys = len(touches.converted)
    weight_sum = np.bincount(pair_journey, weights=weight, minlength=journeys)[pair_journey]
    distinct = np.bincount(pair_journey, minlength=journeys)[pair_journey]
    share = np.where(weight_sum > 0, weight / np.where(weight_sum > 0, weight_sum, 1.0), 1.0 / distinct)
    return (share / repeats)[touch_pair]


def credits_by_key(
    touches: Touches, shares: npt.NDArray[np.float64], keys: npt.NDArray[np.object_] | None = None
) -> pd.DataFrame:
    """Conversions and value credited per touchpoint key, from per-touch ``shares`` of converting journeys."""
    conv = touches.converted[touches.journey]
    weights = np.where(conv, shares, 0.0)
    size = len(touches.keys)
    frame = pd.DataFrame(
        {
            "conversions": np.bincount(touches.code, weights=weights, minlength=size),
            "value": np.bincount(touches.code, weights=weights * touches.value[touches.journey], minlength=size),
        },
        index=pd.Index(touches.keys, name="touchpoint", dtype=object),
    )
    return frame if keys is None else frame.reindex(pd.Index(keys, dtype=object, name="touchpoint"), fill_value=0.0)


class RuleAttribution(BaseEstimator):
    """A rule-based attribution model (``rule`` one of ``RULES``) over channels or campaigns (``by``).

    ``fit(paths)`` takes a :func:`features.paths.touchpoint_paths` frame; ``credits_`` holds the conversions
    and value credited per touchpoint (index ``touchpoint``), summing to the converting journeys and their value.
    """

    def __init__(
        self,
        rule: Rule = "linear",
        by: PathKind = "channels",
        position_weights: tuple[float, float, float] = DEFAULT_POSITION_WEIGHTS,
        half_life_days: float = DEFAULT_HALF_LIFE_DAYS,
    ) -> None:
        self.rule = rule
        self.by = by
        self.position_weights = position_weights
        self.half_life_days = half_life_days

    def touch_shares(self, paths: pd.DataFrame) -> tuple[Touches, npt.NDArray[np.float64]]:
        """The flattened touchpoints of ``paths`` and each one's share of its journey."""
        if self.rule not in RULES:
            raise InvalidInput(f"unknown rule {self.rule!r}; choose one of {', '.join(RULES)}")
        touches = flatten(paths, self.by)
        shares = touch_weights(
            paths, touches, self.rule, position_weights=self.position_weights, half_life_days=self.half_life_days
        )
        return touches, shares

    def fit(self, paths: pd.DataFrame) -> RuleAttribution:
        """Split each converting journey's conversion and value over its touchpoints."""
        touches, shares = self.touch_shares(paths)
        require_conversions(int(touches.converted.sum()))
        self.credits_ = credits_by_key(touches, shares)
        return self
