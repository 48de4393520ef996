"""Creative recommendations: which creative to run per campaign and audience segment."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import NotReady
from core.settings import Settings
from core.tenants import Client
from models.creatives import CreativeSelector
from training.strategy_data import SessionLoader, load_sessions_with


def recommend_creatives(
    settings: Settings, client: Client, campaign_id: str | None = None, load_sessions: SessionLoader | None = None
) -> pd.DataFrame:
    """Per campaign and device class (and over all devices): the creative to run, or 'not enough data'."""
    sessions = load_sessions_with(settings, client, load_sessions)
    if campaign_id is not None:
        sessions = sessions[sessions["campaign_id"] == campaign_id]
        if sessions.empty:
            raise NotReady(f"no sessions of campaign {campaign_id!r} yet")
    recs = CreativeSelector(segment_column="device_class").fit(sessions).recommendations()
    return recs.replace({np.nan: None})
