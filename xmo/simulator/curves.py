"""Media response curves: geometric adstock (carry-over) followed by Hill saturation."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def geometric_adstock(spend: npt.ArrayLike, decay: float, initial: float = 0.0) -> FloatArray:
    """Adstocked spend ``a[t] = spend[t] + decay * a[t-1]`` with ``a[-1] = initial``."""
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"adstock decay must be in [0, 1), got {decay}")
    values = np.asarray(spend, dtype=np.float64)
    out = np.empty_like(values)
    carry = float(initial)
    for t, value in enumerate(values):  # a short loop over days, never over sessions
        carry = value + decay * carry
        out[t] = carry
    return out


def hill(x: npt.ArrayLike, half_saturation: float, shape: float) -> FloatArray:
    """Hill saturation in [0, 1): ``x^s / (x^s + k^s)``, one half at ``x = k``."""
    if half_saturation <= 0 or shape <= 0:
        raise ValueError("Hill half-saturation and shape must be positive")
    ratio = np.maximum(np.asarray(x, dtype=np.float64), 0.0) / half_saturation
    powered = ratio**shape
    return np.asarray(powered / (1.0 + powered), dtype=np.float64)
