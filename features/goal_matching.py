"""Which goal an event reaches: the one definition of matching, as DuckDB SQL and as pandas, which agree exactly.

An event matches a goal definition when its ``event_type`` equals the definition's, its ``goal`` field fully
matches the ``match`` glob (if given), its ``path`` fully matches the ``path`` glob (if given) and its
``value`` is at least ``min_value`` (if given). A null field never matches a pattern and a null value fails a
minimum. The first definition (in order) an event matches names it. Without definitions the default rule
holds: every ``goal`` event matches, named by its ``goal`` field (or ``"goal"`` when that is null or empty).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.goals import GoalDefinition, glob_to_regex
from tracking.events import EventType

DEFAULT_GOAL_NAME = "goal"
EVENT_COLUMNS: tuple[str, ...] = ("event_type", "goal", "path", "value")


def _literal(text: str) -> str:
    """A DuckDB string literal (backslashes are literal there; only quotes need doubling)."""
    return "'" + text.replace("'", "''") + "'"


def _condition_sql(goal: GoalDefinition) -> str:
    parts = [f"event_type = {_literal(goal.event_type)}"]
    if goal.match is not None:
        parts.append(f"regexp_full_match(goal, {_literal(glob_to_regex(goal.match))})")
    if goal.path is not None:
        parts.append(f"regexp_full_match(path, {_literal(glob_to_regex(goal.path))})")
    if goal.min_value is not None:
        # DuckDB orders NaN above every number; pandas compares it as false: exclude it explicitly
        threshold = _literal(repr(float(goal.min_value)))
        parts.append(f"value >= CAST({threshold} AS DOUBLE) AND NOT isnan(value)")
    return " AND ".join(parts)


def goal_sql(goals: Sequence[GoalDefinition]) -> str:
    """A DuckDB expression over an event row's ``event_type``, ``goal``, ``path``, ``value``.

    It gives the name of the first of ``goals`` the event matches, or NULL (the default rule without goals).
    """
    if not goals:
        return (
            f"(CASE WHEN event_type = {_literal(EventType.GOAL.value)} "
            f"THEN coalesce(nullif(goal, ''), {_literal(DEFAULT_GOAL_NAME)}) END)"
        )
    branches = " ".join(f"WHEN {_condition_sql(goal)} THEN {_literal(goal.name)}" for goal in goals)
    return f"(CASE {branches} END)"


def _text(column: pd.Series) -> pd.Series:
    """Strings as Python objects with None for nulls (so ``re`` does the matching whatever the dtype)."""
    values = column.astype(object)
    return values.where(column.notna(), None)


def _fullmatch(column: pd.Series, pattern: str) -> pd.Series:
    matched = _text(column).str.fullmatch(glob_to_regex(pattern), na=False)
    return matched.astype(bool)


def _matches(events: pd.DataFrame, goal: GoalDefinition) -> pd.Series:
    hit = (_text(events["event_type"]) == goal.event_type).astype(bool)
    if goal.match is not None:
        hit &= _fullmatch(events["goal"], goal.match)
    if goal.path is not None:
        hit &= _fullmatch(events["path"], goal.path)
    if goal.min_value is not None:
        values = pd.to_numeric(events["value"], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        hit &= pd.Series(values >= float(goal.min_value), index=events.index)
    return hit


def match_goals(events: pd.DataFrame, goals: Sequence[GoalDefinition]) -> pd.Series:
    """Per event (columns ``event_type``, ``goal``, ``path``, ``value``), the name of the goal it reaches or None.

    The same rule as ``goal_sql``: the first matching definition, or the default rule without definitions.
    """
    names = pd.Series([None] * len(events), index=events.index, dtype=object)
    if not goals:
        is_goal = (_text(events["event_type"]) == EventType.GOAL.value).astype(bool)
        sent = _text(events["goal"])
        named = sent.where(sent.notna() & (sent != ""), DEFAULT_GOAL_NAME)
        names[is_goal] = named[is_goal]
        return names
    open_ = pd.Series(True, index=events.index)
    for goal in goals:
        hit = _matches(events, goal) & open_
        names[hit] = goal.name
        open_ &= ~hit
    return names
