"""The media-mix model's data: a client's KPI and spend per channel, aligned at the KPI's grain.

The KPI table is daily or weekly (:mod:`tracking.cadence`); spend rows are daily or weekly per series. The model
works at the KPI's grain:

- **daily KPI**: daily spend per channel and day; weekly spend is coarser than the KPI and refused (import the
  KPI weekly, or daily spend), never spread over days;
- **weekly KPI**: weekly spend on the KPI's week start is taken as it is; daily spend is summed into the KPI's
  weeks; weekly spend on another weekday is refused (its weeks straddle two of the KPI's).

The periods fitted are those of the KPI that the spend covers whole (a week whose first days have no spend yet
is left out). Inside them, a period without any spend row counts as zero spend, with a warning that names the
dates; a period without a KPI value is an error that names them.

:func:`media_mix_inputs` reads a client's tables and gives the model's inputs (``X``, ``y``) with the KPI and
controls picked and a digest of the data, so a fit can be told apart from one on other data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from tracking.cadence import WEEKDAYS, Cadence, listed
from tracking.kpi import kpi_cadence, read_kpi
from tracking.spend import read_spend

VALUE_KPIS = ("revenue", "sales", "value", "gmv", "turnover")
COUNT_KPIS = ("conversions", "orders", "transactions", "leads", "signups", "purchases")
KPI_PREFERENCE = VALUE_KPIS + COUNT_KPIS  # picked in this order when no KPI is named


@dataclass(frozen=True)
class MediaMixSeries:
    """KPI and spend per channel on the consecutive periods (days or weeks) both cover."""

    cadence: Cadence
    kpi: str
    frame: pd.DataFrame  # index ``date`` (each period's first day): every KPI table column
    spend: pd.DataFrame  # index ``date`` (the same periods): spend per channel
    warnings: tuple[str, ...]

    @property
    def period_days(self) -> int:
        """1 or 7."""
        return self.cadence.days


def row_channels(spend: pd.DataFrame) -> pd.Series:
    """Each spend row's channel: its ``channel``, else (missing or blank) its campaign id."""
    channel = spend["channel"] if "channel" in spend.columns else pd.Series(None, index=spend.index)
    named = channel.astype(object).where(channel.notna() & (channel.astype(str).str.strip() != ""), None)
    return named.fillna(spend["campaign_id"]).astype(str)


def _period_days(spend: pd.DataFrame) -> np.ndarray:
    if "period_days" not in spend.columns:
        return np.ones(len(spend), dtype=np.int64)
    return spend["period_days"].fillna(1).to_numpy(dtype=np.int64)


def spend_at_grain(spend: pd.DataFrame, cadence: Cadence = Cadence.DAY, week_start: int = 0) -> pd.DataFrame:
    """Spend per period (index ``date``: each period's first day) and channel (columns), summed over campaigns.

    ``cadence`` and ``week_start`` (0 = Monday) are the KPI's grain. ``InvalidInput`` for weekly rows under a
    daily grain (coarser than the KPI) and for weekly rows on another week start.
    """
    channels = row_channels(spend)
    lengths = _period_days(spend)
    dates = pd.to_datetime(spend["date"]).dt.normalize()
    weekly = lengths == Cadence.WEEK.days
    if cadence is Cadence.DAY and weekly.any():
        coarse = sorted(set(channels[weekly]))
        raise InvalidInput(
            f"the spend of {', '.join(coarse)} is weekly, coarser than the daily KPI: import the KPI as weekly "
            "rows (one per week, dated like the spend's weeks, after xmo kpi delete CLIENT --all) or daily spend for "
            f"{'it' if len(coarse) == 1 else 'them'}; weekly spend is never spread over days"
        )
    if cadence is Cadence.WEEK:
        shift = (dates.dt.day_of_week - week_start) % 7
        off = weekly & (shift.to_numpy() != 0)
        if off.any():
            name = str(channels[off].iloc[0])
            days = sorted({d.date() for d in dates[off & (channels == name).to_numpy()]})
            raise InvalidInput(
                f"the spend weeks of {name} start on {WEEKDAYS[days[0].weekday()]}s ({listed(days)}), the KPI's "
                f"on {WEEKDAYS[week_start]}s: import spend with weeks that start on {WEEKDAYS[week_start]}, or "
                "daily spend"
            )
        dates = dates - pd.to_timedelta(shift, unit="D")  # a day's spend goes to the KPI week holding it
    rows = pd.DataFrame({"date": dates, "channel": channels, "spend": spend["spend"].astype(float)})
    return rows.pivot_table(index="date", columns="channel", values="spend", aggfunc="sum", fill_value=0.0)


def _covered_days(spend: pd.DataFrame) -> pd.DatetimeIndex:
    """The days the spend rows cover (a weekly row its seven)."""
    lengths = _period_days(spend)
    starts = pd.to_datetime(spend["date"]).dt.normalize().to_numpy().repeat(lengths)
    offsets = (np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)).astype("timedelta64[D]")
    return pd.DatetimeIndex(np.unique(starts + offsets))


def align_media_mix(
    kpi_table: pd.DataFrame,
    kpi_cadence: Cadence,
    spend_table: pd.DataFrame,
    target: str,
    channels: Sequence[str] | None = None,
) -> MediaMixSeries:
    """The KPI ``target`` and the spend per channel (only ``channels`` when given) at the KPI's grain.

    ``NotReady`` when ``target`` has no value; ``InvalidInput`` for unknown channels, spend coarser than the
    KPI or on another week start, no shared period, and missing KPI values inside the shared periods.
    """
    kpi_frame = kpi_table.assign(date=pd.to_datetime(kpi_table["date"]).dt.normalize())
    observed = kpi_frame.loc[kpi_frame[target].notna(), "date"]
    if observed.empty:
        raise NotReady(f"the KPI column {target!r} has no values yet")
    unit, step = kpi_cadence.unit, kpi_cadence.days
    known = sorted(set(row_channels(spend_table)))
    if channels is not None:
        unknown = sorted(set(channels) - set(known))
        if unknown:
            raise InvalidInput(f"no spend for channels {unknown}; known channels: {', '.join(known)}")
        spend_table = spend_table[row_channels(spend_table).isin(set(channels)).to_numpy()]
    week_start = int(observed.min().weekday())
    spend = spend_at_grain(spend_table, kpi_cadence, week_start)
    if channels is not None:
        spend = spend[list(channels)]
    covered = _covered_days(spend_table)
    whole = observed[(observed >= covered.min()) & (observed + pd.Timedelta(days=step - 1) <= covered.max())]
    if whole.empty:
        last_spend = covered.max().date()
        raise InvalidInput(
            f"the KPI ({observed.min().date()} to {observed.max().date()}) and the spend "
            f"({covered.min().date()} to {last_spend}) share no {'whole week' if step > 1 else 'day'}"
        )
    first, last = whole.min(), whole.max()
    warnings: list[str] = []
    if first > observed.min() or last < observed.max():
        warnings.append(f"fitted on {first.date()} to {last.date()}, the {unit}s with both KPI and spend")
    periods = pd.date_range(first, last, freq=f"{step}D", name="date")
    in_range = pd.date_range(first, last + pd.Timedelta(days=step - 1), freq="D")
    idle = [d.date() for d in in_range[~in_range.isin(covered)]]
    if idle:
        warnings.append(
            f"{len(idle)} day(s) in the period have no spend row for any channel: counted as zero spend "
            f"({listed(idle)})"
        )
    spend = spend.reindex(periods, fill_value=0.0).rename_axis("date")
    frame = kpi_frame.set_index("date").reindex(periods)
    gaps = [d.date() for d in frame.index[frame[target].isna()]]
    if gaps:
        raise InvalidInput(
            f"the KPI {target!r} has missing {unit}s: no value on {len(gaps)} {unit}(s) between {first.date()} and "
            f"{last.date()} ({listed(gaps)}); import them, the model needs every {unit}"
        )
    return MediaMixSeries(kpi_cadence, target, frame, spend, tuple(warnings))


def pick_kpi(columns: Sequence[str], kpi: str | None) -> str:
    """The KPI column: ``kpi`` when given (it must exist), else revenue, then conversions (see ``KPI_PREFERENCE``)."""
    if kpi is not None:
        if kpi not in columns:
            raise InvalidInput(f"no KPI column {kpi!r}; the KPI table has {', '.join(columns) or 'no columns'}")
        return kpi
    for name in KPI_PREFERENCE:
        if name in columns:
            return name
    if len(columns) == 1:
        return columns[0]
    raise InvalidInput(f"name the KPI to explain (one of {', '.join(columns)})")


def pick_controls(
    kpi_frame: pd.DataFrame, target: str, controls: Sequence[str] | None, warnings: list[str]
) -> list[str]:
    """Named controls (all must exist), or every column but the outcomes, skipping those with gaps (warned)."""
    columns = [c for c in kpi_frame.columns if c != "date"]
    if controls is not None:
        unknown = [c for c in controls if c not in columns or c == target]
        if unknown:
            raise InvalidInput(f"control columns {unknown} are not KPI columns besides {target!r}")
        return list(controls)
    picked = []
    for name in columns:
        if name == target or name in KPI_PREFERENCE:
            continue
        if kpi_frame[name].isna().any():
            warnings.append(f"column {name!r} has missing days in the period and is not used as a control")
            continue
        picked.append(name)
    return picked


@dataclass(frozen=True)
class MediaMixInputs:
    """What the media-mix model is fitted on: ``X`` (date, spend per channel, controls) and ``y`` (the KPI)."""

    X: pd.DataFrame
    y: np.ndarray
    kpi: str
    period_days: int
    channels: tuple[str, ...]
    controls: tuple[str, ...]
    warnings: tuple[str, ...]
    digest: str  # sha256 hex of X and y

    @property
    def dates(self) -> pd.DatetimeIndex:
        """Each period's first day."""
        return pd.DatetimeIndex(self.X["date"])


def data_digest(X: pd.DataFrame, y: np.ndarray) -> str:
    """sha256 hex of ``X`` (column names and values, in order) and ``y``: equal data, equal digest."""
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, X.columns)).encode())
    digest.update(pd.util.hash_pandas_object(X, index=False).to_numpy().tobytes())
    digest.update(np.ascontiguousarray(y, dtype=np.float64).tobytes())
    return digest.hexdigest()


def media_mix_inputs(
    settings: Settings,
    client_id: str,
    *,
    kpi: str | None = None,
    controls: Sequence[str] | None = None,
    channels: Sequence[str] | None = None,
) -> MediaMixInputs:
    """The client's KPI and spend per channel as the model's inputs, at the KPI's grain (days or weeks).

    ``kpi``: the outcome column (revenue, else conversions, when ``None``). ``controls``: control columns of the
    KPI table (every other non-outcome column without gaps when ``None``; ``()`` for none). ``channels``: only
    these (all with spend when ``None``). ``NotReady`` without KPI or spend data; ``InvalidInput`` for an unknown
    KPI, control or channel, gaps in the KPI and spend coarser than the KPI (:func:`align_media_mix`).
    """
    layout = StorageLayout.from_settings(settings)
    kpi_table = read_kpi(layout, client_id)
    if kpi_table.empty or len(kpi_table.columns) < 2:
        raise NotReady(f"no KPI series for client {client_id!r}; import one with `xmo kpi import {client_id} FILE`")
    spend_table = read_spend(layout, client_id)
    if spend_table.empty:
        raise NotReady(f"no spend for client {client_id!r}; import spend with `xmo spend import {client_id} FILE`")
    target = pick_kpi([c for c in kpi_table.columns if c != "date"], kpi)
    series = align_media_mix(kpi_table, kpi_cadence(layout, client_id), spend_table, target, channels)
    warnings = list(series.warnings)
    chosen = pick_controls(series.frame, target, controls, warnings)
    X = pd.concat([series.spend, series.frame[chosen]], axis=1).rename_axis("date").reset_index()
    X.columns = [str(c) for c in X.columns]
    y = series.frame[target].to_numpy(dtype=float)
    return MediaMixInputs(
        X=X,
        y=y,
        kpi=target,
        period_days=series.period_days,
        channels=tuple(str(c) for c in series.spend.columns),
        controls=tuple(chosen),
        warnings=tuple(warnings),
        digest=data_digest(X, y),
    )
