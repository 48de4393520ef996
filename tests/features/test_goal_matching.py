"""Goal matching: the DuckDB expression and the pandas function give the same goal for every event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.goal_matching import goal_sql, match_goals
from features.goals import GoalDefinition, GoalKind

NASTY = [
    "purchase",
    "purchase-b2b",
    "xpurchase",
    "a.bc",
    "Purchase",
    "a.b",
    "axb",
    "c++",
    "(x)",
    "[y]",
    "q?",
    "*",
    "$1",
    "100%",
    "é",
    "日本",
    "x'y",
    "\\",
]
PATHS = [
    "/",
    "/(c)/x",
    "/(c)",
    "/checkout/done",
    "/checkout.done",
    "/a+b",
    "/(c)",
    "/[d]",
    "/ü/ß",
    "/x\ny",
    "/50%",
    "/it's",
    "/a\\b",
]


def run_sql(events: pd.DataFrame, goals: list[GoalDefinition]) -> list[str | None]:
    connection = duckdb.connect()
    try:
        connection.register("events", events)
        rows = connection.execute(f"SELECT {goal_sql(goals)} AS g FROM events").fetchall()
    finally:
        connection.close()
    return [row[0] for row in rows]


def run_pandas(events: pd.DataFrame, goals: list[GoalDefinition]) -> list[str | None]:
    names = match_goals(events, goals)
    assert names.dtype == object and names.index.equals(events.index)
    return names.tolist()  # None (not NaN) where nothing matched


def frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    events = pd.DataFrame(rows, columns=["event_type", "goal", "path", "value"])
    events["value"] = events["value"].astype("float64")
    for name in ("event_type", "goal", "path"):
        events[name] = events[name].astype(object)
    return events


def both(events: pd.DataFrame, goals: list[GoalDefinition]) -> list[str | None]:
    sql, pandas = run_sql(events, goals), run_pandas(events, goals)
    assert sql == pandas, (goals, events.to_dict("records"))
    return sql


def test_default_rule_names_goal_events_by_their_goal() -> None:
    events = frame(
        [
            {"event_type": "goal", "goal": "purchase", "path": "/", "value": 10.0},
            {"event_type": "goal", "goal": "", "path": "/", "value": None},
            {"event_type": "goal", "goal": None, "path": None, "value": None},
            {"event_type": "pageview", "goal": "purchase", "path": "/", "value": 10.0},
            {"event_type": None, "goal": None, "path": None, "value": None},
        ]
    )
    assert both(events, []) == ["purchase", "goal", "goal", None, None]


def test_first_matching_definition_wins_and_all_conditions_must_hold() -> None:
    big = GoalDefinition.create("big-order", kind="purchase", match="purchase*", min_value=100)
    order = GoalDefinition.create("purchase")
    thanks = GoalDefinition.create("enquiry", event_type="pageview", path="/contact/thank?you*")
    events = frame(
        [
            {"event_type": "goal", "goal": "purchase", "path": "/", "value": 150.0},
            {"event_type": "goal", "goal": "purchase", "path": "/", "value": 50.0},
            {"event_type": "goal", "goal": "purchase", "path": "/", "value": None},
            {"event_type": "goal", "goal": "purchase-b2b", "path": "/", "value": None},
            {"event_type": "goal", "goal": "Purchase", "path": "/", "value": 500.0},
            {"event_type": "pageview", "goal": None, "path": "/contact/thank-you/", "value": None},
            {"event_type": "pageview", "goal": None, "path": "/contact/thankyou", "value": None},
            {"event_type": "click", "goal": None, "path": "/contact/thank-you", "value": None},
            {"event_type": "pageview", "goal": None, "path": None, "value": None},
        ]
    )
    assert both(events, [big, order, thanks]) == [
        "big-order",
        "purchase",
        "purchase",
        None,  # "purchase" (no wildcard) is a full match, and big-order needs a value
        None,  # case-sensitive
        "enquiry",
        None,  # '?' is exactly one character
        None,
        None,
    ]
    assert both(events, [order, big, thanks])[0] == "purchase", "order decides"


def test_regex_metacharacters_are_literal() -> None:
    dotted = GoalDefinition.create("dotted", match="a.b")
    plus = GoalDefinition.create("plus", event_type="pageview", path="/a+b")
    events = frame(
        [
            {"event_type": "goal", "goal": "a.b", "path": None, "value": None},
            {"event_type": "goal", "goal": "axb", "path": None, "value": None},
            {"event_type": "pageview", "goal": None, "path": "/a+b", "value": None},
            {"event_type": "pageview", "goal": None, "path": "/aab", "value": None},
        ]
    )
    assert both(events, [dotted, plus]) == ["dotted", None, "plus", None]


def test_nan_values_fail_a_minimum_in_both_forms() -> None:
    events = frame([{"event_type": "goal", "goal": "x", "path": "/", "value": float("nan")}])
    goal = GoalDefinition.create("x", min_value=0)
    assert both(events, [goal]) == [None]
    # NaN straight from a Parquet file stays NaN in DuckDB (a registered pandas frame turns it into NULL)
    row = "SELECT 'goal' AS event_type, 'x' AS goal, '/' AS path, 'NaN'::DOUBLE AS value"
    sql = f"SELECT {goal_sql([goal])} FROM ({row})"
    assert duckdb.connect().execute(sql).fetchall() == [(None,)]


def test_arrow_backed_strings_match_like_objects() -> None:
    events = frame([{"event_type": "goal", "goal": "a\nb", "path": "/x", "value": 1.0}] * 2)
    events.loc[1, "goal"] = None
    arrow = events.astype({"event_type": "string[pyarrow]", "goal": "string[pyarrow]", "path": "string[pyarrow]"})
    goal = GoalDefinition.create("multi", match="a*b")
    assert run_pandas(arrow, [goal]) == run_pandas(events, [goal]) == run_sql(arrow, [goal]) == ["multi", None]


# randomized agreement -----------------------------------------------------------------------------
_chars = st.sampled_from(list("ab.+*?()[]{}^$|\\/-_ 'xé日\n"))
_texts = st.one_of(st.none(), st.just(""), st.sampled_from(NASTY + PATHS), st.text(_chars, max_size=6))
_patterns = st.one_of(
    st.sampled_from(["a*", "*b", "a?b", "*.*", "c++", "(x)", "[y]", "/checkout/*", "/a+b", "*'*", "\\*", "日*"]),
    st.text(_chars.filter(lambda c: c != "\n"), min_size=1, max_size=5).filter(lambda p: p.strip() == p),
)
_event_types = st.one_of(st.none(), st.sampled_from(["goal", "pageview", "click", "custom", "other"]))
_values = st.one_of(st.none(), st.floats(min_value=0, max_value=200, allow_nan=False), st.sampled_from([0.0, 50.0]))


@st.composite
def goal_definitions(draw: st.DrawFn, index: int) -> GoalDefinition:
    event_type = draw(st.sampled_from(["goal", "pageview", "click", "custom"]))
    match = draw(st.one_of(st.none(), _patterns))
    path = draw(st.one_of(st.none(), _patterns))
    if match is None and path is None and event_type in ("pageview", "click"):
        path = "*"
    min_value = draw(st.one_of(st.none(), st.sampled_from([0.0, 50.0, 0.1]), st.floats(0, 200, allow_nan=False)))
    kind = draw(st.sampled_from(list(GoalKind)))
    return GoalDefinition.create(
        f"g{index}", kind=kind, event_type=event_type, match=match, path=path, min_value=min_value
    )


def instantiate(pattern: str, fill: str) -> str:
    """A string the glob matches: each ``*`` and ``?`` replaced from ``fill``."""
    out = []
    for char in pattern:
        out.append(fill if char == "*" else (fill[:1] or "x") if char == "?" else char)
    return "".join(out)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[pd.DataFrame, list[GoalDefinition]]:
    n_goals = draw(st.integers(0, 4))
    goals = [draw(goal_definitions(i)) for i in range(n_goals)]
    # strings near the patterns: matches, and near misses one character longer or shorter
    near: list[str] = []
    for goal in goals:
        for pattern in (goal.match, goal.path):
            if pattern is not None:
                hit = instantiate(pattern, draw(st.text(_chars, max_size=3)))
                near += [hit, hit + "x", "x" + hit, hit[:-1], pattern]
    texts = st.one_of(_texts, st.sampled_from(near)) if near else _texts
    rows = draw(
        st.lists(
            st.fixed_dictionaries({"event_type": _event_types, "goal": texts, "path": texts, "value": _values}),
            min_size=1,
            max_size=30,
        )
    )
    return frame(rows), goals


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_sql_and_pandas_agree_on_random_events(scenario: tuple[pd.DataFrame, list[GoalDefinition]]) -> None:
    events, goals = scenario
    both(events, goals)


@pytest.mark.parametrize("seed", range(3))
def test_sql_and_pandas_agree_on_a_large_seeded_frame(seed: int) -> None:
    rng = np.random.default_rng(seed)
    pool = [None, "", *NASTY, *PATHS]
    n = 5000
    events = frame(
        [
            {
                "event_type": rng.choice(np.array(["goal", "pageview", "click", "custom", None], dtype=object)),
                "goal": pool[rng.integers(len(pool))],
                "path": pool[rng.integers(len(pool))],
                "value": None if rng.random() < 0.3 else float(rng.choice([0.0, 10.0, 49.99, 50.0, 1e6])),
            }
            for _ in range(n)
        ]
    )
    goals = [
        GoalDefinition.create("big", match="purchase", min_value=50),
        GoalDefinition.create("dots", match="a.b"),
        GoalDefinition.create("meta", event_type="pageview", path="/(c)"),
        GoalDefinition.create("unicode", event_type="custom", match="日*"),
        GoalDefinition.create("quote", event_type="click", path="*'*"),
        GoalDefinition.create("anything", event_type="goal", match="*"),
    ]
    result = both(events, goals)
    assert {"big", "dots", "anything"} <= set(result) and None in result
