"""Industry benchmarks: conversion rates and CPA pooled across the clients that opted in (privacy P8).

**Cells.** Each visitor of a client belongs to exactly one cell: the channel (``by="channel"``, from the
first session's campaign tags and referrer, ``features.channels``) or the device class (``by="device"``) of
their first session. A cell counts its visitors, those who converted at least once (``converted_visitors``),
their sessions and converted sessions (``conversions``; at most ``SESSION_CAP`` sessions per visitor, the
earliest, are counted). So every number of a cell comes from the visitors counted in it, and one visitor moves
at most one cell, by 1 visitor, 1 converted visitor and ``SESSION_CAP`` sessions and conversions: the
sensitivities the optional Laplace noise is scaled to (``privacy.aggregates``).

**Rates.** The conversion rate is per visitor (``converted_visitors / visitors``), not per session: a visitor
adds at most 1 to each of its two counts, which noise of a small scale can hide, while a visitor's sessions are
unbounded and need the cap. The Wilson interval is computed from the published (noised) counts.

**CPA** (``by="channel"`` only): the pooled spend of the clients that report spend on the channel, divided by the
conversions of *those* clients' visitors acquired through it — published only when at least ``min_clients`` of
them report spend and no two dominate it. Campaign spend without a channel takes the channel of the
campaign's sessions; spend on a channel that brought a client no visitor still counts (in a cell of 0 visitors
for that client); spend on channels pixels cannot see (TV, print) has no cell.

Client ids are replaced by opaque labels before pooling and never reach the result.
"""

from __future__ import annotations

import hashlib
import hmac
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Engine

from core import audit
from core.errors import InvalidInput, NotReady
from core.layout import StorageLayout
from core.settings import Settings
from core.tenants import Client, Tenants
from features.channels import CHANNELS, classify_channel
from models import intervals
from privacy.aggregates import CONTRIBUTOR, Pooled, Thresholds, check_epsilon, noise_generator, pool
from privacy.masterkey import load_master_key
from strategy.sessions import client_sessions
from tracking.spend import read_spend

GROUPINGS: tuple[str, ...] = ("channel", "device")
SESSION_CAP = 20
CONFIDENCE = 0.95
_NOISE_PURPOSE = b"xmo-industry-benchmarks-noise-v1"
_COUNTS = ("visitors", "converted_visitors", "sessions", "conversions")
METHOD = (
    "Each visitor counts once, in the {by} of their first session; conversion rate = visitors who converted / "
    "visitors; sessions and conversions count at most {cap} sessions per visitor.{cpa} Cells with fewer than "
    "{k} visitors or {m} clients, or where two clients hold over {share:.0%} of the visitors, are suppressed."
)
CPA_METHOD = (
    " CPA = spend of the clients reporting spend on the channel / conversions of their visitors from that "
    "channel (withheld unless {m} such clients, no two over {share:.0%} of the spend)."
)

SessionLoader = Callable[[Client], pd.DataFrame]


@dataclass(frozen=True)
class IndustryBenchmarks:
    """Published cells (no client ids), the thresholds and noise that protect them, how many were suppressed."""

    by: str
    pooled: Pooled
    cells: pd.DataFrame

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: cells, thresholds, epsilon and noise scales, the suppressed count, the method."""
        t = self.pooled.thresholds
        return {
            "by": self.by,
            "cells": [_folded(row) for row in self.cells.to_dict("records")],
            "suppressed_cells": self.pooled.suppressed,
            "thresholds": {
                "min_visitors": t.min_visitors,
                "min_clients": t.min_clients,
                "max_two_client_share": t.dominance_share,
            },
            "epsilon": self.pooled.epsilon,
            "noise_scales": dict(self.pooled.scales),
            "session_cap": SESSION_CAP,
            "confidence": CONFIDENCE,
            "method": METHOD.format(
                by=self.by,
                cap=SESSION_CAP,
                cpa=CPA_METHOD.format(m=t.min_clients, share=t.dominance_share) if self.by == "channel" else "",
                k=t.min_visitors,
                m=t.min_clients,
                share=t.dominance_share,
            ),
        }


def _folded(row: dict[Any, Any]) -> dict[str, Any]:
    """A cell as plain JSON, each ``x_low``/``x_high`` pair as ``x_interval: [low, high]`` (``null``: none)."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        name = str(key)
        if name.endswith("_high"):
            continue
        if name.endswith("_low"):
            bounds = [_plain(value), _plain(row[name[:-4] + "_high"])]
            out[name[:-4] + "_interval"] = None if bounds[0] is None else bounds
        else:
            out[name] = _plain(value)
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def check_grouping(by: str) -> str:
    """``by`` if it is a benchmark grouping, else ``InvalidInput``."""
    if by not in GROUPINGS:
        raise InvalidInput(f"unknown grouping {by!r}: use one of {', '.join(GROUPINGS)}")
    return by


def _session_cells(sessions: pd.DataFrame, by: str) -> pd.Series:
    if by == "device":
        device = sessions["device_class"] if "device_class" in sessions else pd.Series(None, index=sessions.index)
        return device.astype(object).where(device.notna(), "unknown").astype(str)
    tags = [sessions.get(name) for name in ("utm_source", "utm_medium", "referrer_host")]
    if all(tag is None for tag in tags):
        return pd.Series("direct", index=sessions.index, dtype=object)
    return classify_channel(*tags).astype(str)


def _spend_per_channel(spend: pd.DataFrame, sessions: pd.DataFrame, channels: pd.Series) -> pd.Series:
    """Spend per channel: the row's channel, else the most common channel of the campaign's sessions."""
    if spend.empty:
        return pd.Series(dtype=float)
    named = spend["channel"].astype(object) if "channel" in spend else pd.Series(None, index=spend.index)
    if "campaign_id" in sessions:
        tagged = pd.DataFrame({"campaign_id": sessions["campaign_id"], "channel": channels}).dropna()
        top = tagged.groupby(["campaign_id", "channel"]).size().sort_values(ascending=False, kind="stable")
        by_campaign = top.reset_index().drop_duplicates("campaign_id").set_index("campaign_id")["channel"]
        named = named.where(named.notna(), spend["campaign_id"].astype(object).map(by_campaign))
    keep = named.notna()
    return spend["spend"][keep].astype(float).groupby(named[keep].astype(str).str.lower()).sum()


def client_contribution(
    sessions: pd.DataFrame, spend: pd.DataFrame | None, by: str, *, cap: int = SESSION_CAP
) -> pd.DataFrame:
    """One client's share of each cell: visitors, converted visitors, capped sessions and conversions, and for
    channels its spend and the conversions that spend bought (no identifiers in the result)."""
    check_grouping(by)
    columns = ["cell", *_COUNTS] + (["spend", "spend_conversions"] if by == "channel" else [])
    if sessions.empty:
        return pd.DataFrame(columns=columns)
    cells = _session_cells(sessions, by)
    frame = pd.DataFrame(
        {
            "visitor": sessions["visitor_id"].astype(str).to_numpy(),
            "started_at": pd.to_datetime(sessions["started_at"], utc=True).to_numpy(),
            "cell": cells.to_numpy(),
            "converted": sessions["converted"].fillna(False).astype(bool).to_numpy(),
        }
    ).sort_values(["visitor", "started_at"], kind="stable")
    frame = frame[frame.groupby("visitor").cumcount() < cap]
    per_visitor = frame.groupby("visitor", sort=False).agg(
        cell=("cell", "first"), sessions=("converted", "size"), conversions=("converted", "sum")
    )
    per_visitor["converted_visitors"] = (per_visitor["conversions"] > 0).astype(np.int64)
    out = per_visitor.groupby("cell").agg(
        visitors=("sessions", "size"),
        converted_visitors=("converted_visitors", "sum"),
        sessions=("sessions", "sum"),
        conversions=("conversions", "sum"),
    )
    out = out.astype(np.int64).reset_index()
    if by == "channel":
        per_channel = _spend_per_channel(spend if spend is not None else pd.DataFrame(), sessions, cells)
        # spend on a channel that brought no visitor still counts towards its CPA
        idle = [c for c in per_channel.index if c in CHANNELS and c not in set(out["cell"]) and per_channel[c] > 0]
        if idle:
            zeros = pd.DataFrame({"cell": idle, **{name: 0 for name in _COUNTS}})
            out = pd.concat([out, zeros.astype({name: np.int64 for name in _COUNTS})], ignore_index=True)
        spent = out["cell"].map(per_channel).astype(float)
        out["spend"] = spent.where(spent > 0)
        out["spend_conversions"] = np.where(out["spend"].notna(), out["conversions"], 0).astype(np.int64)
    return out[columns]


def pool_contributions(
    contributions: list[pd.DataFrame],
    by: str,
    thresholds: Thresholds,
    *,
    epsilon: float | None = None,
    rng: np.random.Generator | None = None,
    secret: bytes | None = None,
) -> IndustryBenchmarks:
    """Label the clients' contributions opaquely, pool them, add noise, and compute rates and CPA.

    With ``epsilon`` and no ``rng``, the noise is seeded by ``secret`` and the exact pooled input, so that the
    same question about the same data always gets the same answer (nothing to average away).
    """
    check_grouping(by)
    sensitivities: dict[str, float] = {"visitors": 1, "converted_visitors": 1, "sessions": SESSION_CAP}
    sensitivities["conversions"] = SESSION_CAP
    sums: tuple[str, ...] = ()
    if by == "channel":
        sensitivities["spend_conversions"] = SESSION_CAP
        sums = ("spend",)
    labelled = [c.assign(**{CONTRIBUTOR: i}) for i, c in enumerate(contributions) if not c.empty]
    columns = ["cell", CONTRIBUTOR, *sensitivities, *sums]
    frame = pd.concat(labelled, ignore_index=True) if labelled else pd.DataFrame(columns=columns)
    frame = frame[columns].astype({name: np.int64 for name in sensitivities})
    if epsilon is not None and rng is None:
        if secret is None:
            raise InvalidInput("noise needs a random generator or a secret to seed one")
        rng = noise_generator(secret, _fingerprint(frame, by, epsilon, thresholds))
    pooled = pool(
        frame, cell="cell", thresholds=thresholds, sensitivities=sensitivities, sums=sums, epsilon=epsilon, rng=rng
    )
    return IndustryBenchmarks(by=by, pooled=pooled, cells=_metrics(pooled.cells, by))


def _fingerprint(frame: pd.DataFrame, by: str, epsilon: float, thresholds: Thresholds) -> bytes:
    ordered = frame.sort_values(["cell", *frame.columns.drop(["cell", CONTRIBUTOR])]).drop(columns=CONTRIBUTOR)
    text = f"{by}|{epsilon!r}|{thresholds!r}|" + ordered.to_csv(index=False)
    return hashlib.sha256(text.encode()).digest()


def _metrics(cells: pd.DataFrame, by: str) -> pd.DataFrame:
    """Published columns: counts, visitor conversion rate with its Wilson interval, CPA with its interval."""
    out = cells.rename(columns={"cell": by})[[by, *_COUNTS]].copy()
    x, n = out["converted_visitors"].to_numpy(float), out["visitors"].to_numpy(float)
    low, high = intervals.wilson_interval(x, n, CONFIDENCE)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["conversion_rate"] = np.where(n > 0, x / n, np.nan)
    out["conversion_rate_low"] = np.where(n > 0, low, np.nan)
    out["conversion_rate_high"] = np.where(n > 0, high, np.nan)
    if by == "channel":
        spend = cells["spend"].to_numpy(float)
        bought = cells["spend_conversions"].to_numpy(float)
        has = np.isfinite(spend) & (spend > 0)
        cpa_low, cpa_high = intervals.cpa_interval(np.where(has, spend, 0.0), bought, CONFIDENCE)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["cpa"] = np.where(has & (bought > 0), spend / bought, np.nan)
        out["cpa_low"] = np.where(has, cpa_low, np.nan)
        out["cpa_high"] = np.where(has, cpa_high, np.nan)
    return out.reset_index(drop=True)


def noise_secret(settings: Settings) -> bytes:
    """The key that seeds benchmark noise, derived from the master key (never the master key itself)."""
    return hmac.new(load_master_key(settings), _NOISE_PURPOSE, hashlib.sha256).digest()


def industry_benchmarks(
    settings: Settings,
    *,
    by: str = "channel",
    epsilon: float | None = None,
    min_visitors: int | None = None,
    min_clients: int | None = None,
    tenants: Tenants | None = None,
    load_sessions: SessionLoader | None = None,
    rng: np.random.Generator | None = None,
) -> IndustryBenchmarks:
    """Benchmarks pooled over every opted-in client with sessions; thresholds may only be raised above the
    settings' (``InvalidInput`` otherwise). Clients without sessions in the lake contribute nothing."""
    check_grouping(by)
    check_epsilon(epsilon)
    thresholds = Thresholds.raised(
        settings.benchmark_min_visitors, settings.benchmark_min_clients, min_visitors, min_clients
    )
    tenants = tenants or Tenants.from_settings(settings)
    layout = StorageLayout.from_settings(settings)
    contributions = []
    for client in tenants.list_clients():
        if not client.benchmarks_opt_in:
            continue
        try:
            sessions = load_sessions(client) if load_sessions else client_sessions(settings, client)
        except NotReady:
            continue
        spend = read_spend(layout, client.id) if by == "channel" else None
        contributions.append(client_contribution(sessions, spend, by))
    secret = noise_secret(settings) if epsilon is not None and rng is None else None
    return pool_contributions(contributions, by, thresholds, epsilon=epsilon, rng=rng, secret=secret)


def record_publication(engine: Engine, result: IndustryBenchmarks, *, actor: str, client_id: str | None) -> None:
    """Audit that benchmarks were published (to ``client_id``, or the operator): grouping, counts, epsilon."""
    with engine.begin() as connection:
        audit.record(
            connection,
            actor=actor,
            action="benchmarks.industry",
            client_id=client_id,
            details={
                "by": result.by,
                "cells": len(result.cells),
                "suppressed": result.pooled.suppressed,
                "epsilon": result.pooled.epsilon,
            },
        )
