"""Markov-chain attribution by removal effect (first order), over counted touchpoint paths.

The chain has a ``start`` state, one state per touchpoint (channel or campaign) and two absorbing states,
``conversion`` and ``null``. Each journey walks ``start → t1 → … → tn`` and then to ``conversion`` when it
converted, else to ``null``; transition probabilities are the observed transition counts, row-normalized
(:func:`features.paths.path_counts` gives the paths and how many journeys took each).

With ``Q`` the transient-to-transient block and ``N = (I - Q)^-1`` (one linear solve), the probability of
absorbing in ``conversion`` from each state is ``x = N r`` (``r``: one-step conversion probabilities).
**Removing** a state sends every transition into it to ``null``; the conversion probability from ``start``
then drops by ``P(reach k) · x_k`` (the walks that pass through ``k``; ``P(reach k) = N[start, k] / N[k, k]``),
so the removal effect of ``k`` is ``RE_k = N[start, k] / N[k, k] · x_k / x_start``: all removal effects come
from the same solve, no simulation. Conversions are credited as ``total conversions × RE_k / Σ RE``.

Value is credited the same way with a value-weighted chain (``value_method="removal"``): the absorbing reward
of a state is the value of the conversions that end there per transition out of it, ``E = N r_value`` is the
expected value from each state and ``RE^value_k = P(reach k) · E_k / E_start``; ``value_method="proportional"``
instead gives each touchpoint the share of value equal to its share of conversions. Because the chain is
estimated from the same journeys, ``x_start × journeys`` equals the observed conversions (flow conservation),
and the credits sum exactly to the conversions and value of the converting journeys.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator

from core.errors import InvalidInput
from features.paths import path_counts
from models.attribution_rules import PathKind, check_path_kind, require_conversions

START, CONVERSION, NULL = "(start)", "(conversion)", "(null)"
VALUE_METHODS: tuple[str, ...] = ("removal", "proportional")


def _normalized(effects: npt.NDArray[np.float64], total: float) -> npt.NDArray[np.float64]:
    """``total`` split in proportion to ``effects`` (zeros when there is nothing to split)."""
    mass = float(effects.sum())
    return effects / mass * total if mass > 0 and total != 0 else np.zeros_like(effects)


class MarkovAttribution(BaseEstimator):
    """First-order Markov-chain attribution by removal effect over channels or campaigns (``by``).

    ``fit(paths)`` takes a :func:`features.paths.touchpoint_paths` frame. Learned attributes: ``states_``
    (touchpoints, sorted), ``transition_matrix_`` (DataFrame: rows ``start`` and the touchpoints, columns the
    touchpoints, ``conversion`` and ``null``), ``conversion_probability_`` (from ``start``),
    ``removal_effects_`` and ``value_removal_effects_`` (Series by touchpoint) and ``credits_`` (conversions and
    value per touchpoint, index ``touchpoint``).
    """

    def __init__(self, by: PathKind = "channels", value_method: Literal["removal", "proportional"] = "removal") -> None:
        self.by = by
        self.value_method = value_method

    def fit(self, paths: pd.DataFrame) -> MarkovAttribution:
        """Estimate the chain from ``paths`` and credit conversions and value by removal effect."""
        check_path_kind(self.by)
        if self.value_method not in VALUE_METHODS:
            raise InvalidInput(f"value_method must be one of {', '.join(VALUE_METHODS)}, not {self.value_method!r}")
        counts = path_counts(paths, by=self.by)
        conversions = float(counts["conversions"].sum())
        require_conversions(int(conversions))
        value_total = float(counts["conversion_value"].sum())
        counts_matrix, rewards, states = self._counts(counts)
        n = len(states)
        out = counts_matrix.sum(axis=1)
        probabilities = counts_matrix / out[:, None]
        q = probabilities[:, : n + 1]  # transient (touchpoints, then start) to transient
        fundamental = np.linalg.solve(np.eye(n + 1) - q, np.eye(n + 1))
        x = fundamental @ probabilities[:, n + 1]
        expected_value = fundamental @ (rewards / out)
        reach = fundamental[n, :n] / np.diag(fundamental)[:n]  # P(ever visit k | start)
        removal = reach * x[:n] / x[n]
        value_removal = reach * expected_value[:n] / expected_value[n] if expected_value[n] > 0 else np.zeros(n)
        credited = _normalized(removal, conversions)
        if self.value_method == "removal":
            value_credit = _normalized(value_removal, value_total)
        else:
            value_credit = credited / conversions * value_total
        index = pd.Index(states, name="touchpoint", dtype=object)
        self.states_ = states
        self.transition_matrix_ = pd.DataFrame(
            probabilities,
            index=pd.Index([*states, START], dtype=object),
            columns=pd.Index([*states, START, CONVERSION, NULL], dtype=object),
        ).drop(columns=START)
        self.conversion_probability_ = float(x[n])
        self.removal_effects_ = pd.Series(removal, index=index, name="removal_effect")
        self.value_removal_effects_ = pd.Series(value_removal, index=index, name="value_removal_effect")
        self.credits_ = pd.DataFrame({"conversions": credited, "value": value_credit}, index=index)
        return self

    @staticmethod
    def _counts(
        counts: pd.DataFrame,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.object_]]:
        """Transition counts (rows: touchpoints then start; columns: those, conversion, null), value rewards, states."""
        lists = counts["path"].to_numpy(dtype=object)
        lengths = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
        if (lengths == 0).any():
            raise InvalidInput("a journey without touchpoints cannot be attributed")
        flat = np.fromiter((k for p in lists for k in p), dtype=object, count=int(lengths.sum()))
        codes, keys = pd.factorize(flat, sort=True)
        n = len(keys)
        start, conversion, null = n, n + 1, n + 2
        journeys = counts["journeys"].to_numpy(dtype=float)
        converted = counts["conversions"].to_numpy(dtype=float)
        value = counts["conversion_value"].to_numpy(dtype=float)
        ends = np.cumsum(lengths)
        is_first = np.zeros(len(flat), dtype=bool)
        is_first[ends - lengths] = True
        previous = np.r_[start, codes[:-1]]
        source = np.where(is_first, start, previous)
        weight = np.repeat(journeys, lengths)
        last = codes[ends - 1]
        size = n + 3
        matrix = np.bincount(source * size + codes, weights=weight, minlength=size * size).reshape(size, size)
        np.add.at(matrix, (last, np.full(len(last), conversion)), converted)
        np.add.at(matrix, (last, np.full(len(last), null)), journeys - converted)
        rewards = np.bincount(last, weights=value, minlength=size)
        order = [*range(n), start]  # transient rows: touchpoints, then start
        return (
            np.asarray(matrix[order], dtype=float),
            np.asarray(rewards[order], dtype=float),
            np.asarray(keys, dtype=object),
        )
