"""Geometric adstock: a channel's spend carried over into the following days, and its derivative in the decay.

One definition serves the response curves (``models.response``) and the media-mix model (``models.mediamix``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float64]


def geometric_adstock(spend: npt.ArrayLike, decay: float) -> FloatArray:
    """Carry-over with weights summing to one: ``a[t] = (1 - decay) * s[t] + decay * a[t-1]``.

    A constant spend ``s`` settles at ``a = s``, so steady-state answers are in spend units. The series
    starts settled at the first day's spend. (The simulator's ``a = s + decay * a_prev`` is the same model
    with the half saturation divided by ``1 - decay``.)
    """
    values = np.asarray(spend, dtype=float)
    if values.size == 0:
        return values.copy()
    out, _ = lfilter([1.0 - decay], [1.0, -decay], values, zi=[decay * values[0]])
    return np.asarray(out, dtype=float)


def adstock_matrix(spend: npt.ArrayLike, decays: npt.ArrayLike) -> FloatArray:
    """:func:`geometric_adstock` for each decay: shape ``(len(decays), len(spend))``."""
    return np.vstack([geometric_adstock(spend, float(d)) for d in np.asarray(decays, dtype=float)])


def adstock_decay_derivative(spend: np.ndarray, carried: np.ndarray, decay: float) -> np.ndarray:
    """``d a[t] / d decay`` of :func:`geometric_adstock` (``carried``):

    ``g[t] = a[t-1] - s[t] + decay * g[t-1]`` with ``g[0] = 0``.
    """
    previous = np.concatenate(([carried[0]], carried[:-1]))
    out, _ = lfilter([1.0], [1.0, -decay], previous - spend, zi=[0.0])
    return np.asarray(out, dtype=float)
