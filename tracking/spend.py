"""Daily spend per campaign: ``lake/spend/client_id=<id>/spend.parquet``, one row per (date, campaign_id)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from core.errors import InvalidInput
from core.layout import StorageLayout
from tracking.lake import write_parquet_atomically

SPEND_SCHEMA = pa.schema(
    [
        pa.field("date", pa.date32(), nullable=False),
        pa.field("campaign_id", pa.string(), nullable=False),
        pa.field("channel", pa.string()),
        pa.field("spend", pa.float64(), nullable=False),
        pa.field("impressions", pa.int64()),
        pa.field("clicks", pa.int64()),
    ]
)
_KEY = ["date", "campaign_id"]


def _validated(frame: pd.DataFrame) -> pd.DataFrame:
    missing = {"date", "campaign_id", "spend"} - set(frame.columns)
    if missing:
        raise InvalidInput(f"spend rows need columns {sorted(missing)}")
    out = pd.DataFrame(
        {
            "date": pd.to_datetime(frame["date"], errors="coerce").dt.date,
            "campaign_id": frame["campaign_id"].astype(object).where(frame["campaign_id"].notna(), None),
            "channel": frame.get("channel", None),
            "spend": pd.to_numeric(frame["spend"], errors="coerce"),
            "impressions": pd.to_numeric(frame["impressions"], errors="coerce") if "impressions" in frame else None,
            "clicks": pd.to_numeric(frame["clicks"], errors="coerce") if "clicks" in frame else None,
        }
    )
    bad = out["date"].isna() | out["campaign_id"].isna() | out["spend"].isna() | (out["spend"] < 0)
    if bad.any():
        first = int(bad.to_numpy().nonzero()[0][0])
        raise InvalidInput(f"spend row {first + 1}: need a date, a campaign id and a non-negative spend")
    if out.duplicated(_KEY).any():
        raise InvalidInput("spend rows repeat a (date, campaign_id) pair")
    for name in ("impressions", "clicks"):
        out[name] = out[name].astype("Int64")
    return out


def read_spend(layout: StorageLayout, client_id: str) -> pd.DataFrame:
    """The client's spend table (empty with the right columns when none was stored)."""
    path = layout.client_spend_dir(client_id) / "spend.parquet"
    if not path.exists():
        return SPEND_SCHEMA.empty_table().to_pandas()
    return pq.read_table(path).to_pandas()


def upsert_spend(layout: StorageLayout, client_id: str, rows: pd.DataFrame) -> int:
    """Validate and store spend rows, replacing any stored row with the same (date, campaign_id)."""
    new = _validated(rows)
    old = read_spend(layout, client_id)
    if not old.empty:
        keys = pd.MultiIndex.from_frame(new[_KEY])
        old = old[~pd.MultiIndex.from_frame(old[_KEY]).isin(keys)]
        merged = pd.concat([old, new], ignore_index=True) if not old.empty else new
    else:
        merged = new
    merged = merged.sort_values(_KEY).reset_index(drop=True)
    table = pa.Table.from_pandas(merged, schema=SPEND_SCHEMA, preserve_index=False)
    write_parquet_atomically(table, layout.client_spend_dir(client_id) / "spend.parquet")
    return len(new)
