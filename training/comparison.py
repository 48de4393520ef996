"""Paired comparison of two models' predictions on the same sessions, with bootstrap confidence intervals.

Both models score the same test split; resampling sessions (with replacement) and recomputing both models'
log loss and ROC AUC on each resample gives the distribution of their difference. Differences are oriented so
that a positive value favours the challenger: ``log_loss`` improvement = champion − challenger, ``roc_auc``
gain = challenger − champion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import rankdata

from core.errors import InvalidInput

FloatArray = npt.NDArray[np.float64]
EPSILON = 1e-7


@dataclass(frozen=True)
class MetricComparison:
    """One metric of both models and the challenger's advantage with its confidence interval."""

    metric: str
    champion: float
    challenger: float
    advantage: float  # > 0 favours the challenger
    ci_low: float
    ci_high: float
    confidence: float

    @property
    def significantly_better(self) -> bool:
        """The whole interval favours the challenger."""
        return self.ci_low > 0

    @property
    def significantly_worse(self) -> bool:
        """The whole interval favours the champion."""
        return self.ci_high < 0

    def describe(self) -> str:
        """E.g. ``log_loss 0.3120 → 0.3050 (better by 0.0070, 95% CI 0.0031 to 0.0110)``."""
        verdict = "better" if self.advantage > 0 else "worse" if self.advantage < 0 else "equal"
        return (
            f"{self.metric} {self.champion:.4f} → {self.challenger:.4f} ({verdict} by {abs(self.advantage):.4f}, "
            f"{self.confidence:.0%} CI {self.ci_low:+.4f} to {self.ci_high:+.4f})"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _log_loss_per_session(y: npt.NDArray[np.int64], p: FloatArray) -> FloatArray:
    q = np.clip(p, EPSILON, 1 - EPSILON)
    return np.asarray(np.where(y == 1, -np.log(q), -np.log(1 - q)), dtype=np.float64)


def _auc(y: npt.NDArray[np.int64], p: FloatArray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula; NaN without both classes."""
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _check(y: npt.ArrayLike, p_champion: npt.ArrayLike, p_challenger: npt.ArrayLike) -> tuple[Any, Any, Any]:
    labels = np.asarray(y).astype(np.int64)
    a = np.asarray(p_champion, dtype=np.float64)
    b = np.asarray(p_challenger, dtype=np.float64)
    if not len(labels) == len(a) == len(b):
        raise InvalidInput("labels and both models' predictions must have the same length")
    if len(np.unique(labels)) < 2:
        raise InvalidInput("comparing models needs test sessions with and without conversions")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InvalidInput("predictions must be finite probabilities")
    return labels, a, b


def compare_predictions(
    y: npt.ArrayLike,
    p_champion: npt.ArrayLike,
    p_challenger: npt.ArrayLike,
    *,
    n_boot: int = 300,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, MetricComparison]:
    """``log_loss`` and ``roc_auc`` of both models with paired percentile-bootstrap intervals."""
    labels, a, b = _check(y, p_champion, p_challenger)
    if n_boot < 50:
        raise InvalidInput("use at least 50 bootstrap resamples")
    loss_a, loss_b = _log_loss_per_session(labels, a), _log_loss_per_session(labels, b)
    rng = np.random.default_rng(seed)
    n = len(labels)
    loss_gain = np.empty(n_boot)
    auc_gain = np.empty(n_boot)
    for i in range(n_boot):
        sample = rng.integers(0, n, n)
        loss_gain[i] = loss_a[sample].mean() - loss_b[sample].mean()
        auc_gain[i] = _auc(labels[sample], b[sample]) - _auc(labels[sample], a[sample])
    tail = (1 - confidence) / 2 * 100
    results = {}
    for metric, champion, challenger, advantage, samples in (
        ("log_loss", loss_a.mean(), loss_b.mean(), loss_a.mean() - loss_b.mean(), loss_gain),
        ("roc_auc", _auc(labels, a), _auc(labels, b), _auc(labels, b) - _auc(labels, a), auc_gain),
    ):
        finite = samples[np.isfinite(samples)]
        low, high = np.percentile(finite, [tail, 100 - tail])
        results[metric] = MetricComparison(
            metric, float(champion), float(challenger), float(advantage), float(low), float(high), confidence
        )
    return results


def promotion_verdict(comparisons: dict[str, MetricComparison]) -> tuple[bool, list[str]]:
    """Whether the challenger beats the champion, and why (one reason per line).

    It does when it is ahead on both log loss and AUC, significantly so on at least one of them. A
    difference whose interval covers zero is noise: it can neither win nor lose the comparison alone.
    """
    loss, auc = comparisons["log_loss"], comparisons["roc_auc"]
    reasons = [loss.describe(), auc.describe()]
    if loss.significantly_worse or auc.significantly_worse:
        worse = [c.metric for c in (loss, auc) if c.significantly_worse]
        return False, [*reasons, f"challenger is significantly worse on {' and '.join(worse)}"]
    if loss.advantage <= 0 or auc.advantage < 0:
        return False, [*reasons, "challenger is not ahead on both log loss and AUC"]
    if not (loss.significantly_better or auc.significantly_better):
        return False, [*reasons, "the challenger's advantage is within the noise (both intervals cover 0)"]
    return True, [*reasons, "challenger is ahead on both, significantly on at least one"]
