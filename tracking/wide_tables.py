"""Files laid out the way media-mix tools export them: one row per period, one column per channel.

Robyn, PyMC-Marketing and Meridian all take a *wide* table (``date, revenue, tv, search, …, events``), and
marketers keep their data that way. xmo stores spend as rows (date, channel, spend) and KPIs as columns, so a
wide file is imported twice: its channel columns as spend (``--wide tv,search``: :func:`spend_from_wide`), and
the same file as KPIs without them (``--ignore tv,search``: :func:`without_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from core.errors import InvalidInput
from tracking.columns import column_key
from tracking.table_files import parse_numbers


def split_names(text: str | None) -> list[str]:
    """``"tv, search"`` → ``["tv", "search"]``; ``None`` or blank → ``[]``."""
    if text is None:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


def _file_columns(frame: pd.DataFrame, names: Sequence[str], option: str) -> list[str]:
    """The file's columns for ``names`` (compared as keys: case and punctuation do not matter)."""
    if not names:
        raise InvalidInput(f"{option} needs at least one column name")
    by_key: dict[str, str] = {}
    for label in frame.columns:
        by_key.setdefault(column_key(label), str(label))
    found: list[str] = []
    missing: list[str] = []
    for name in names:
        column = by_key.get(column_key(name))
        if column is None:
            missing.append(name)
        else:
            found.append(column)
    if missing:
        raise InvalidInput(
            f"{option}: no column {', '.join(repr(m) for m in missing)} in the file; its columns are "
            f"{', '.join(str(c) for c in frame.columns)}"
        )
    repeated = sorted({c for c in found if found.count(c) > 1})
    if repeated:
        raise InvalidInput(f"{option} names the column(s) {', '.join(repeated)} more than once")
    return found


def spend_from_wide(rows: pd.DataFrame, channel_columns: Sequence[str], option: str = "--wide") -> pd.DataFrame:
    """One spend row (the file's other columns, ``channel``, ``spend``) per file row and channel column.

    The channel is the column's name in lower case. Each channel column must hold non-negative numbers in every
    row (``InvalidInput`` names the file's row and column); the other columns (the date, and whatever else the
    file holds: the KPI, controls) are kept on every row for the spend import to read or list as ignored.
    ``option`` names the setting in errors (``--wide`` on the command line, ``wide`` in the API).
    """
    columns = _file_columns(rows, channel_columns, option)
    taken = {column_key(c) for c in rows.columns if c not in columns} & {"channel", "spend", "campaign_id"}
    if taken:
        raise InvalidInput(
            f"a wide spend file has one column per channel; it must not also have {', '.join(sorted(taken))}"
        )
    for column in columns:
        parse_numbers(rows[column], column, required=True, non_negative=True)  # errors name the file's row
    others = [c for c in rows.columns if c not in columns]
    long = rows.reset_index(drop=True).melt(
        id_vars=others, value_vars=columns, var_name="channel", value_name="spend", ignore_index=True
    )
    long["channel"] = long["channel"].astype(str).str.strip().str.lower()
    return long


def without_columns(rows: pd.DataFrame, names: Sequence[str], option: str = "--ignore") -> pd.DataFrame:
    """``rows`` without the named columns (case and punctuation do not matter); an unknown name is an error naming
    ``option``."""
    return rows.drop(columns=_file_columns(rows, names, option))
