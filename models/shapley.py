"""Shapley-value attribution over the sets of touchpoints of converting journeys (Zhao et al., 2018).

Players are the touchpoints (channels or campaigns); a journey's **coalition** is the set of distinct
touchpoints on its path (order and repeats ignored). The characteristic function of a coalition ``S`` is the
number (or value) of conversions of the journeys whose coalition is a subset of ``S``:
``v(S) = Σ_{T ⊆ S} r(T)``, ``r(T)`` the conversions of journeys with coalition exactly ``T``
("Shapley value methods for attribution modeling in online advertising", Zhao, Mahboobi, Bagheri, 2018).
Efficiency makes the values sum to ``v(all)``, the conversions (value) of the converting journeys.

- **Exact** (at most ``max_exact_players`` touchpoints, default 15): ``v`` on every subset by a subset-sum
  (zeta) transform of the observed coalitions, then the Shapley formula
  ``φ_j = Σ_{S ∌ j} |S|! (n-|S|-1)! / n! · (v(S ∪ {j}) - v(S))``, vectorized over all ``2^n`` subsets.
- **Sampled** (more touchpoints, e.g. campaigns): the average marginal contribution over ``n_permutations``
  seeded random orders of the players. In one order, a coalition ``T`` adds ``r(T)`` to ``v`` exactly when
  its last member arrives, so that member's marginal contribution takes it; every order therefore credits
  the exact totals, and ``std_errors_`` gives each estimate's Monte-Carlo standard error.

As ``v`` is a sum of unanimity games (one per coalition), its exact Shapley value is also
``φ_j = Σ_{T ∋ j} r(T) / |T|`` — the "simplified Shapley value" of the paper: each converting journey's
credit shared equally by its distinct touchpoints (:func:`models.attribution_rules.distinct_key_shares` with
equal weights gives those shares per journey); the tests use it as an independent check of both estimators.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

from core.errors import InvalidInput
from features.paths import path_counts
from models.attribution_rules import PathKind, check_path_kind, require_conversions

MAX_EXACT_PLAYERS_LIMIT = 20  # 2^20 subsets: the most an exact solve may enumerate
_SAMPLE_CELLS = 4_000_000  # permutations × coalitions × members handled per batch


def _popcount(masks: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Number of set bits of each mask."""
    counts = np.zeros_like(masks)
    remaining = masks.copy()
    while remaining.any():
        counts += remaining & 1
        remaining >>= 1
    return counts


def exact_shapley(
    masks: npt.NDArray[np.int64], worth: npt.NDArray[np.float64], players: int
) -> npt.NDArray[np.float64]:
    """Exact Shapley values of ``v(S) = Σ_{T ⊆ S} worth(T)`` over ``players`` players.

    ``masks`` are the coalitions as bitmasks, ``worth`` their r(T) (one column per outcome). Returns
    ``players × outcomes``.
    """
    size = 1 << players
    v = np.zeros((size, worth.shape[1]))
    np.add.at(v, masks, worth)
    for bit in range(players):  # zeta transform: v(S) = Σ_{T ⊆ S} r(T)
        block = v.reshape(-1, 2, 1 << bit, worth.shape[1])
        block[:, 1] += block[:, 0]
    subsets = np.arange(size, dtype=np.int64)
    sizes = _popcount(subsets)
    fact = np.array([math.factorial(k) for k in range(players + 1)], dtype=float)
    weight_of_size = fact[:players] * fact[players - 1 :: -1] / fact[players]  # |S|!(n-|S|-1)!/n!
    values = np.zeros((players, worth.shape[1]))
    for j in range(players):
        without = subsets[(subsets >> j) & 1 == 0]
        gain = v[without | (1 << j)] - v[without]
        values[j] = weight_of_size[sizes[without]] @ gain
    return values


def sampled_shapley(
    members: npt.NDArray[np.int64], worth: npt.NDArray[np.float64], players: int, n_permutations: int, seed: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Permutation estimate of the Shapley values of the same game and its standard errors.

    ``members`` holds each coalition's players, padded with ``players`` (a dummy that comes first).
    """
    rng = np.random.default_rng(seed)
    outcomes = worth.shape[1]
    per_order: list[npt.NDArray[np.float64]] = []  # each: b × players × outcomes
    batch = max(1, _SAMPLE_CELLS // max(1, members.size))
    done = 0
    while done < n_permutations:
        b = min(batch, n_permutations - done)
        orders = rng.permuted(np.tile(np.arange(players), (b, 1)), axis=1)
        position = np.empty((b, players + 1), dtype=np.int64)
        position[np.arange(b)[:, None], orders] = np.arange(players)
        position[:, players] = -1  # padding arrives before everyone
        completes = position[:, members].max(axis=2)  # b × coalitions: when each coalition is complete
        credited = np.take_along_axis(orders, completes, axis=1)  # the member whose arrival completes it
        cells = (np.arange(b)[:, None] * players + credited).ravel()
        per_order.append(
            np.stack(
                [
                    np.bincount(cells, weights=np.tile(worth[:, o], b), minlength=b * players).reshape(b, players)
                    for o in range(outcomes)
                ],
                axis=2,
            )
        )
        done += b
    draws = np.concatenate(per_order)
    return draws.mean(axis=0), draws.std(axis=0, ddof=1) / np.sqrt(n_permutations)


def coalitions(counts: pd.DataFrame) -> tuple[list[frozenset[str]], npt.NDArray[np.float64]]:
    """The distinct touchpoint sets of converting paths of ``counts`` (a :func:`features.paths.path_counts`
    frame) with their conversions and value (columns)."""
    converting = counts[counts["conversions"] > 0]
    grouped = (
        pd.DataFrame(
            {
                "set": [frozenset(p) for p in converting["path"]],
                "conversions": converting["conversions"].to_numpy(dtype=float),
                "value": converting["conversion_value"].to_numpy(dtype=float),
            }
        )
        .groupby("set", sort=False)[["conversions", "value"]]
        .sum()
    )
    return list(grouped.index), grouped.to_numpy(dtype=float)


class ShapleyAttribution(BaseEstimator):
    """Shapley-value attribution of conversions and value over channels or campaigns (``by``).

    Exact for at most ``max_exact_players`` distinct touchpoints in converting journeys, else estimated from
    ``n_permutations`` orders drawn with ``random_state``. Learned attributes: ``players_``, ``method_``
    (``"exact"`` or ``"sampled"``), ``credits_`` (conversions and value per touchpoint, index ``touchpoint``;
    touchpoints seen only in non-converting journeys get 0) and ``std_errors_`` (zeros when exact).
    """

    def __init__(
        self, by: PathKind = "channels", max_exact_players: int = 15, n_permutations: int = 2000, random_state: int = 0
    ) -> None:
        self.by = by
        self.max_exact_players = max_exact_players
        self.n_permutations = n_permutations
        self.random_state = random_state

    def fit(self, paths: pd.DataFrame) -> ShapleyAttribution:
        """Compute the Shapley value of every touchpoint for conversions and for value."""
        check_path_kind(self.by)
        if not 1 <= self.max_exact_players <= MAX_EXACT_PLAYERS_LIMIT:
            raise InvalidInput(f"max_exact_players must be between 1 and {MAX_EXACT_PLAYERS_LIMIT}")
        if self.n_permutations < 2:
            raise InvalidInput("n_permutations must be at least 2")
        counts = path_counts(paths, by=self.by)
        sets, worth = coalitions(counts)
        require_conversions(int(worth[:, 0].sum()) if len(worth) else 0)
        seen = sorted({k for p in counts["path"] for k in p})
        players = sorted({k for s in sets for k in s})
        slot = {k: i for i, k in enumerate(players)}
        n = len(players)
        if n <= self.max_exact_players:
            masks = np.array([sum(1 << slot[k] for k in s) for s in sets], dtype=np.int64)
            values, errors = exact_shapley(masks, worth, n), np.zeros((n, 2))
            self.method_ = "exact"
        else:
            width = max(len(s) for s in sets)
            members = np.full((len(sets), width), n, dtype=np.int64)
            for row, s in enumerate(sets):
                members[row, : len(s)] = [slot[k] for k in s]
            values, errors = sampled_shapley(members, worth, n, self.n_permutations, self.random_state)
            self.method_ = "sampled"
        index = pd.Index(seen, name="touchpoint", dtype=object)
        self.players_ = players
        self.credits_ = pd.DataFrame(values, index=pd.Index(players, dtype=object), columns=["conversions", "value"])
        self.credits_ = self.credits_.reindex(index, fill_value=0.0)
        self.std_errors_ = pd.DataFrame(errors, index=pd.Index(players, dtype=object), columns=["conversions", "value"])
        self.std_errors_ = self.std_errors_.reindex(index, fill_value=0.0)
        return self
