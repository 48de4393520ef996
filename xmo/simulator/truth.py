"""The ground truth of a simulation on disk: ``world.json``, ``sessions.parquet``, ``campaign_days.parquet``.

``world.json`` holds the campaigns, creatives and their effects per device class, response-curve parameters,
daily spend, the best creative per campaign and device class, rates and the seed. ``sessions.parquet`` holds
one row per session with its true conversion probability and outcome; ``campaign_days.parquet`` the spend,
adstock, expected and realized sessions of each campaign and day (for judging response-curve fits).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import NotFound
from core.files import atomic_write
from tracking.lake import write_parquet_atomically
from xmo.simulator.traffic import Traffic
from xmo.simulator.world import World

WORLD_FILE = "world.json"
SESSIONS_FILE = "sessions.parquet"
CAMPAIGN_DAYS_FILE = "campaign_days.parquet"
FORMAT = "xmo-simulation-truth-v1"


@dataclass(frozen=True, eq=False)
class Truth:
    """A simulation's ground truth as loaded from disk."""

    world: World
    sessions: pd.DataFrame
    campaign_days: pd.DataFrame
    client_id: str
    domain: str

    @property
    def best_creatives(self) -> dict[str, dict[str, str]]:
        """The best creative id per campaign id and device class."""
        return self.world.best_creatives()


def _to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A DataFrame as Arrow, time-zone-aware columns as UTC timestamps (without pandas' tz deprecation path)."""
    zoned = [name for name in frame.columns if isinstance(frame[name].dtype, pd.DatetimeTZDtype)]
    plain = frame.assign(**{name: frame[name].dt.tz_convert(None) for name in zoned})
    table = pa.Table.from_pandas(plain, preserve_index=False)
    for name in zoned:
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table[name].cast(pa.timestamp("us", tz="UTC")))
    return table


def campaign_days(world: World, sessions: pd.DataFrame) -> pd.DataFrame:
    """Spend, adstocked spend, expected and realized sessions per campaign and day."""
    realized = (
        sessions.dropna(subset=["campaign_id"]).groupby(["campaign_id", "day"], observed=True).size().rename("sessions")
    )
    frames = []
    for campaign in world.campaigns:
        spend = np.asarray(campaign.daily_spend, dtype=np.float64)
        adstock = campaign.response.adstock(spend)
        frames.append(
            pd.DataFrame(
                {
                    "date": world.dates,
                    "day": np.arange(world.days),
                    "campaign_id": campaign.id,
                    "channel": campaign.channel,
                    "spend": spend,
                    "adstock": adstock,
                    "expected_sessions": campaign.response.sessions(adstock),
                }
            )
        )
    days = pd.concat(frames, ignore_index=True)
    days = days.join(realized, on=["campaign_id", "day"])
    days["sessions"] = days["sessions"].fillna(0).astype(np.int64)
    return days


def write_truth(path: Path, world: World, traffic: Traffic) -> Path:
    """Write the truth of ``traffic`` (simulated from ``world``) into the directory ``path``."""
    path.mkdir(parents=True, exist_ok=True)
    document = {
        "format": FORMAT,
        "client_id": traffic.client_id,
        "domain": traffic.domain,
        "sessions": len(traffic.sessions),
        "hits": traffic.n_hits,
        "world": world.to_dict(),
    }
    atomic_write(path / WORLD_FILE, json.dumps(document, indent=2).encode(), mode=0o644)
    write_parquet_atomically(_to_arrow(traffic.sessions), path / SESSIONS_FILE)
    days = campaign_days(world, traffic.sessions)
    write_parquet_atomically(_to_arrow(days), path / CAMPAIGN_DAYS_FILE)
    return path


def load_truth(path: Path) -> Truth:
    """The truth ``write_truth`` wrote into ``path``."""
    world_file = path / WORLD_FILE
    if not world_file.is_file():
        raise NotFound(f"no simulation truth in {path} (expected {WORLD_FILE}; see `xmo simulate --truth-out`)")
    document = json.loads(world_file.read_text())
    return Truth(
        world=World.from_dict(document["world"]),
        sessions=pq.read_table(path / SESSIONS_FILE).to_pandas(),
        campaign_days=pq.read_table(path / CAMPAIGN_DAYS_FILE).to_pandas(),
        client_id=document["client_id"],
        domain=document["domain"],
    )
