"""Carry-over (adstock) and saturation families of the media-mix model, with their parameter derivatives.

Every adstock keeps weights that sum to one, so a constant spend settles at itself and a curve's steady state is
its saturation alone. Each family maps one channel's spend per period to its carried spend, and each saturation
maps carried spend to a share of the channel's maximum effect (``β`` multiplies it):

- ``geometric`` (decay): ``a[t] = (1 - decay) s[t] + decay a[t-1]``, every lag (Robyn's and Meridian's default);
- ``weibull`` (shape, scale in periods): weights ∝ the Weibull density at lags 1, 2, …, :data:`MAX_LAGS` (Robyn's
  ``weibull_pdf``): a peak after the spend when the shape exceeds 1;
- ``delayed`` (decay, peak in periods): weights ∝ ``decay^((lag - peak)²)`` (Jin et al. 2017; PyMC-Marketing's
  ``delayed_adstock``);
- ``hill`` (half-saturation, shape): ``x^α / (κ^α + x^α)``; ``michaelis_menten`` (half-saturation):
  ``x / (κ + x)`` (Hill with shape 1, concave); ``logistic`` (half-saturation): ``tanh(ln 3 · x / (2κ))``,
  PyMC-Marketing's ``(1 - e^{-λx}) / (1 + e^{-λx})`` with ``λ = ln 3 / κ`` so that it is also half-saturated at
  ``κ``.

The saturation's half-saturation is fitted on a log scale. Derivatives are analytic for the saturations and the
geometric carry-over; the weights of the lagged families are differentiated numerically (a vector of
:data:`MAX_LAGS` numbers) and convolved with the spend, which is exact in the spend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from core.errors import InvalidInput
from models.adstock import adstock_decay_derivative, geometric_adstock
from models.response import hill

ADSTOCKS = ("geometric", "weibull", "delayed")
SATURATIONS = ("hill", "logistic", "michaelis_menten")
MAX_LAGS = {1: 28, 7: 13}  # lags of the weibull and delayed weights: four weeks of days, a quarter of weeks
LOG3 = float(np.log(3.0))


def check_families(adstock: str, saturation: str) -> None:
    """``InvalidInput`` for an unknown family name."""
    if adstock not in ADSTOCKS:
        raise InvalidInput(f"unknown adstock {adstock!r}; choose one of {', '.join(ADSTOCKS)}")
    if saturation not in SATURATIONS:
        raise InvalidInput(f"unknown saturation {saturation!r}; choose one of {', '.join(SATURATIONS)}")


# -- saturation ----------------------------------------------------------------------------------------------


def saturate(name: str, x: np.ndarray, half: float | np.ndarray, shape: float | np.ndarray = 1.0) -> np.ndarray:
    """Saturation ``name`` of carried spend ``x`` (broadcasts over parameters); ``shape`` only serves Hill."""
    x = np.maximum(np.asarray(x, dtype=float), 0.0)
    if name == "hill":
        return hill(x, half, shape)
    if name == "michaelis_menten":
        return np.asarray(x / (np.asarray(half, dtype=float) + x), dtype=float)
    if name == "logistic":
        return np.asarray(np.tanh(LOG3 * x / (2.0 * np.asarray(half, dtype=float))), dtype=float)
    raise InvalidInput(f"unknown saturation {name!r}")


def _saturation_with_derivatives(
    name: str, x: np.ndarray, params: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The saturated values, ``d/dx`` and ``d/dparams`` (``(n, p)``: log half-saturation first)."""
    half = float(np.exp(params[0]))
    positive = x > 0
    if name == "hill":
        shape = float(params[1])
        ratio = np.where(positive, x / half, 1.0)
        u = np.where(positive, ratio**shape, 0.0)
        value = u / (1.0 + u)
        dh_du = 1.0 / (1.0 + u) ** 2
        dx = np.where(positive, dh_du * shape * u / np.where(positive, x, 1.0), 0.0)
        d_log_half = -dh_du * shape * u
        d_shape = dh_du * u * np.log(np.where(u > 0, ratio, 1.0))
        return value, dx, np.column_stack([d_log_half, d_shape])
    if name == "michaelis_menten":
        value = x / (half + x)
        dx = half / (half + x) ** 2
        return value, dx, (-half * x / (half + x) ** 2)[:, None]
    z = LOG3 * x / (2.0 * half)
    value = np.tanh(z)
    dz = 1.0 - value**2
    return value, dz * LOG3 / (2.0 * half), (-dz * z)[:, None]


# -- carry-over ----------------------------------------------------------------------------------------------


def _log_weights(name: str, params: np.ndarray, lags: int) -> np.ndarray:
    lag = np.arange(lags, dtype=float)
    if name == "weibull":
        shape, scale = float(params[0]), float(params[1])
        z = (lag + 1.0) / scale
        return np.asarray((shape - 1.0) * np.log(z) - z**shape, dtype=float)
    decay, peak = float(params[0]), float(params[1])
    return np.asarray((lag - peak) ** 2 * np.log(decay), dtype=float)


def lag_weights(name: str, params: np.ndarray, lags: int) -> np.ndarray:
    """Normalized weights of a lagged family (``weibull`` or ``delayed``) over ``lags`` periods."""
    logs = _log_weights(name, params, lags)
    weights = np.exp(logs - logs.max())
    return np.asarray(weights / weights.sum(), dtype=float)


def _convolve(spend: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``Σ_l w[l] · spend[t - l]``, the periods before the series taken as its first (settled carry-over)."""
    padded = np.concatenate([np.full(len(weights) - 1, spend[0]), spend])
    return np.asarray(np.convolve(padded, weights, mode="valid"), dtype=float)


def carry(name: str, spend: np.ndarray, params: np.ndarray, lags: int) -> np.ndarray:
    """Carried spend of family ``name`` (settled at the first period's spend)."""
    if name == "geometric":
        return geometric_adstock(spend, float(params[0]))
    return _convolve(spend, lag_weights(name, params, lags))


def _carry_with_derivatives(
    name: str, spend: np.ndarray, params: np.ndarray, lags: int
) -> tuple[np.ndarray, np.ndarray]:
    """Carried spend and its derivatives in the family's parameters, ``(n, p)``."""
    if name == "geometric":
        decay = float(params[0])
        carried = geometric_adstock(spend, decay)
        if len(spend) == 0:
            return carried, np.zeros((0, 1))
        return carried, adstock_decay_derivative(spend, carried, decay)[:, None]
    weights = lag_weights(name, params, lags)
    carried = _convolve(spend, weights)
    columns = []
    for k in range(len(params)):
        step = 1e-6 * max(abs(float(params[k])), 1.0)
        up, down = params.copy(), params.copy()
        up[k] += step
        down[k] -= step
        d_weights = (lag_weights(name, up, lags) - lag_weights(name, down, lags)) / (2.0 * step)
        columns.append(_convolve(spend, d_weights))
    return carried, np.column_stack(columns)


# -- a pair ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Families:
    """An adstock and a saturation family and the order of their parameters (adstock first)."""

    adstock: str = "geometric"
    saturation: str = "hill"
    lags: int = 13

    @property
    def adstock_params(self) -> tuple[str, ...]:
        return {"geometric": ("decay",), "weibull": ("weibull_shape", "weibull_scale"), "delayed": ("decay", "peak")}[
            self.adstock
        ]

    @property
    def saturation_params(self) -> tuple[str, ...]:
        return ("log_half_saturation", "shape") if self.saturation == "hill" else ("log_half_saturation",)

    @property
    def names(self) -> tuple[str, ...]:
        return self.adstock_params + self.saturation_params

    @property
    def n_params(self) -> int:
        return len(self.names)

    def bounds(
        self,
        typical: float,
        decay_bounds: tuple[float, float],
        half_saturation_bounds: tuple[float, float],
        shape_bounds: tuple[float, float],
    ) -> list[tuple[float, float]]:
        """Bounds of each parameter for a channel whose mean spend per period with spend is ``typical``."""
        spans: dict[str, tuple[float, float]] = {
            "decay": (max(decay_bounds[0], 0.05) if self.adstock == "delayed" else decay_bounds[0], decay_bounds[1]),
            "weibull_shape": (0.5, 5.0),
            "weibull_scale": (0.3, self.lags / 2.0),
            "peak": (0.0, min(4.0, self.lags / 3.0)),
            "log_half_saturation": (
                float(np.log(typical * half_saturation_bounds[0])),
                float(np.log(typical * half_saturation_bounds[1])),
            ),
            "shape": shape_bounds,
        }
        return [spans[name] for name in self.names]

    def transform(self, spend: np.ndarray, params: np.ndarray) -> np.ndarray:
        """Saturated carry-over of one channel's spend."""
        a = len(self.adstock_params)
        sat = params[a:]
        shape = float(sat[1]) if self.saturation == "hill" else 1.0
        return saturate(self.saturation, carry(self.adstock, spend, params[:a], self.lags), np.exp(sat[0]), shape)

    def transform_with_derivatives(self, spend: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Saturated carry-over of one channel's spend and its derivatives in ``params``, ``(n, n_params)``."""
        a = len(self.adstock_params)
        carried, d_carried = _carry_with_derivatives(self.adstock, spend, params[:a], self.lags)
        value, dx, d_sat = _saturation_with_derivatives(self.saturation, carried, params[a:])
        return value, np.column_stack([dx[:, None] * d_carried, d_sat])

    def curve_parameters(self, params: np.ndarray) -> tuple[float, float, float]:
        """``half_saturation, shape, first adstock parameter`` for :class:`~models.mediamix.ChannelResponse`."""
        a = len(self.adstock_params)
        shape = float(params[a + 1]) if self.saturation == "hill" else 1.0
        return float(np.exp(params[a])), shape, float(params[0])


def families_for(adstock: str, saturation: str, period_days: int) -> Families:
    """The family pair for a period length (checked)."""
    check_families(adstock, saturation)
    return Families(adstock, saturation, MAX_LAGS.get(period_days, 13))
