"""Media-mix mode of the budget recommendation: fit the client's KPI series on its spend per channel.

Reads the KPI table (``tracking.kpi``) and the spend table (``tracking.spend``), aligned at the KPI's grain by
:func:`features.media_mix_data.align_media_mix` (spend per channel: the ``channel`` column, or the campaign id
where a row has no channel), and fits :class:`models.mediamix.MediaMixModel` on the days or weeks both cover (the
KPI's grain). The result's curves answer per day whatever the grain, and go to the budget allocator like
per-campaign curves do.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client
from features.media_mix_data import COUNT_KPIS, KPI_PREFERENCE, VALUE_KPIS, align_media_mix, pick_kpi, spend_at_grain  # noqa: F401 (re-exported)
from features.media_mix_data import pick_controls as _controls
from models.mediamix import ChannelResponse, MediaMixModel
from models.response import SpendResponse
from tracking.cadence import Cadence
from tracking.kpi import kpi_cadence, read_kpi
from tracking.spend import read_spend

RECENT_DAYS = 28


@dataclass(frozen=True)
class MediaMixResult:
    """A fitted media-mix model of one client and what the allocator needs from it (daily amounts)."""

    client_id: str
    kpi: str
    curves: dict[str, SpendResponse]
    current_daily_spend: dict[str, float]  # mean daily spend over the last RECENT_DAYS fitted days (4 weeks)
    fit_report: dict[str, Any]
    model: MediaMixModel
    warnings: tuple[str, ...]

    @property
    def outcome_kind(self) -> str:
        """``value`` (revenue-like: ROAS is meaningful) or ``count`` (conversions-like: cost per outcome)."""
        return "value" if self.kpi in VALUE_KPIS else "count"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the fit report, and per channel its curve parameters and effect at today's spend."""
        channels = {}
        level = float(self.fit_report.get("interval_level", 0.9))
        for name, curve in self.curves.items():
            spend = self.current_daily_spend[name]
            entry: dict[str, Any] = {
                "current_daily_spend": spend,
                "daily_effect_at_current": float(curve.steady_state(spend)),
                "marginal_effect_at_current": float(curve.steady_state(spend + 1.0) - curve.steady_state(spend)),
            }
            if isinstance(curve, ChannelResponse):
                low, high = curve.steady_state_interval(spend, level)
                entry |= {
                    "daily_effect_interval": [low, high],
                    "beta": curve.beta,
                    "half_saturation": curve.half_saturation,
                    "shape": curve.shape,
                    "decay": curve.decay,
                    "period_days": curve.period_days,
                }
            channels[name] = entry
        return {
            "client_id": self.client_id,
            "mode": "media_mix",
            "kpi": self.kpi,
            "outcome_kind": self.outcome_kind,
            "recent_days": RECENT_DAYS,
            "channels": channels,
            "fit_report": self.fit_report,
            "warnings": list(self.warnings),
        }


def daily_channel_spend(spend: pd.DataFrame) -> pd.DataFrame:
    """Spend per day (index) and channel (columns); a row without a channel counts under its campaign id.

    ``InvalidInput`` for weekly rows (see :func:`features.media_mix_data.spend_at_grain`).
    """
    return spend_at_grain(spend, Cadence.DAY)


def fit_media_mix(
    settings: Settings,
    client: Client,
    *,
    kpi: str | None = None,
    controls: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
    holdout_share: float = 0.125,
    n_draws: int = 100,
    random_state: int = 0,
) -> MediaMixResult:
    """Fit the media-mix model of ``client``'s KPI on its spend per channel, at the KPI's grain (days or weeks).

    ``kpi``: the outcome column (revenue, else conversions, when ``None``). ``controls``: control columns
    of the KPI table (every other non-outcome column without gaps when ``None``; ``()`` for none).
    ``channels``: restrict to these channels (all with spend when ``None``). The fit covers the days from
    the later of the first KPI and first spend period to the earlier of the last ones; periods in that range
    with no spend row for a channel count as zero spend (:func:`features.media_mix_data.align_media_mix`).
    ``NotReady`` without KPI or spend data; ``InvalidInput`` for gaps in the KPI, spend coarser than the KPI,
    too few periods and the other errors of the model.
    """
    layout = StorageLayout.from_settings(settings)
    kpi_table = read_kpi(layout, client.id)
    if kpi_table.empty or len(kpi_table.columns) < 2:
        raise NotReady(f"no KPI series for client {client.id!r}; import one with `xmo kpi import`")
    spend_table = read_spend(layout, client.id)
    if spend_table.empty:
        raise NotReady(f"no spend for client {client.id!r}; import spend with `xmo spend import`")
    target = pick_kpi([c for c in kpi_table.columns if c != "date"], kpi)
    series = align_media_mix(kpi_table, kpi_cadence(layout, client.id), spend_table, target, channels)
    spend, kpi_frame, warnings = series.spend, series.frame, list(series.warnings)
    period_days = series.period_days
    chosen = _controls(kpi_frame, target, controls, warnings)
    X = pd.concat([spend, kpi_frame[chosen]], axis=1).rename_axis("date").reset_index()
    model = MediaMixModel(
        channels=list(spend.columns),
        controls=chosen,
        holdout_share=holdout_share,
        n_draws=n_draws,
        random_state=random_state,
        period_days=period_days,
    ).fit(X, kpi_frame[target].to_numpy(dtype=float))
    recent = spend.tail(RECENT_DAYS // period_days)
    current = {name: float(recent[name].mean()) / period_days for name in model.channels_}
    warnings += model.warnings_
    for name, value in current.items():
        if value <= 0:
            warnings.append(f"channel {name!r} has had no spend in the last {RECENT_DAYS} days")
    report = dict(model.fit_report_) | {"kpi": target, "warnings": list(warnings)}
    curves: dict[str, SpendResponse] = dict(model.curves_)
    return MediaMixResult(client.id, target, curves, current, report, model, tuple(warnings))
